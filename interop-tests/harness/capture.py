"""tshark as an independent witness of what crossed loopback."""

from __future__ import annotations

import time
from pathlib import Path

from .procs import Proc, Processes, run


def start_capture(procs: Processes, pcap: Path, bpf: str, seconds: int = 120) -> Proc:
    # -a duration bounds the capture even if the test's stop never came.
    proc = procs.start("tshark-capture", ["tshark", "-n", "-q", "-i", "lo", "-f", bpf,
                                          "-w", str(pcap), "-a", f"duration:{seconds}"])
    # dumpcap prints "Capturing on 'Loopback: lo'" once the filter is live.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert proc.alive(), f"tshark exited at start (need root or CAP_NET_RAW):\n{proc.log()}"
        if "Capturing on" in proc.log():
            time.sleep(0.3)
            return proc
        time.sleep(0.1)
    raise AssertionError(f"tshark did not start capturing:\n{proc.log()}")


def count(pcap: Path, display_filter: str) -> int:
    out = run(["tshark", "-n", "-r", str(pcap), "-Y", display_filter, "-T", "fields",
               "-e", "frame.number"], timeout=60)
    assert out.returncode == 0, f"tshark -r failed: {out.stderr.decode(errors='replace')}"
    return len([line for line in out.stdout.splitlines() if line.strip()])
