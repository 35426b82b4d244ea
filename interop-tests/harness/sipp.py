"""SIPp helpers: start uas/uac, read the -trace_stat CSV."""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import ports
from .procs import Proc, Processes, run, tail

PCAP_DIR = Path("/usr/share/sip-tester")


@dataclass
class SippStats:
    successful: int
    failed: int
    outgoing: int
    row: dict[str, str]

    @classmethod
    def read(cls, path: Path) -> "SippStats":
        if not path.exists():
            raise AssertionError(f"SIPp wrote no statistics file {path}")
        rows = list(csv.reader(path.open(newline=""), delimiter=";"))
        if len(rows) < 2:
            raise AssertionError(f"SIPp statistics file {path} has no data row")
        # The last row is written at exit and holds the cumulative counters.
        row = dict(zip(rows[0], rows[-1]))
        return cls(
            successful=int(row.get("SuccessfulCall(C)", "0")),
            failed=int(row.get("FailedCall(C)", "0")),
            outgoing=int(row.get("OutgoingCall(C)", "0")),
            row=row,
        )

    def failures(self) -> dict[str, str]:
        return {k: v for k, v in self.row.items()
                if k.startswith("Failed") and k.endswith("(C)") and v not in ("0", "")}


class Sipp:
    def __init__(self, procs: Processes, workdir: Path):
        self.procs = procs
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)

    def uas(self, port: int = ports.TRUNK_PORT, name: str = "sipp-uas", extra=(),
            timeout: int = 120) -> Proc:
        ports.require_free(port, "the SIPp uas (trunk)")
        argv = ["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(port),
                "-nostdin", "-timeout", str(timeout), *extra]
        return self.procs.start(name, argv, cwd=self.workdir)

    def uac(self, target: str, calls: int, rate: int, name: str = "sipp-uac",
            service: str = "5000", transport: str = "u1", pause_ms: int = 0,
            scenario: Path | None = None, extra=(), timeout: int = 120) -> tuple[Proc, Path]:
        """Start a uac; returns the process and the path of its stat CSV."""
        stat = self.workdir / f"{name}.stat.csv"
        screen = self.workdir / f"{name}.screen.log"
        errors = self.workdir / f"{name}.errors.log"
        scen = ["-sf", str(scenario)] if scenario else ["-sn", "uac"]
        argv = ["sipp", *scen, target, "-s", service, "-i", "127.0.0.1",
                "-p", str(ports.port()), "-t", transport,
                "-r", str(rate), "-m", str(calls), "-d", str(pause_ms),
                "-nostdin", "-timeout", str(timeout), "-timeout_error",
                "-max_socket", "2000",
                "-trace_stat", "-stf", str(stat), "-fd", "1",
                "-trace_screen", "-screen_file", str(screen),
                "-trace_err", "-error_file", str(errors),
                *extra]
        return self.procs.start(name, argv, cwd=self.workdir), stat

    def finish(self, proc: Proc, stat: Path, timeout: float) -> tuple[int, SippStats]:
        rc = proc.wait(timeout)
        return rc, SippStats.read(stat)

    def explain(self, proc: Proc) -> str:
        """What SIPp saw when it went wrong: screen, unexpected messages."""
        parts = [f"--- {proc.name} log ---\n{tail(proc.log_path, 40)}"]
        for suffix in ("screen.log", "errors.log"):
            p = self.workdir / f"{proc.name}.{suffix}"
            if p.exists():
                parts.append(f"--- {p.name} ---\n{tail(p, 60)}")
        return "\n".join(parts)

    def pcap_scenario(self) -> Path:
        """uac_pcap.xml plus ./pcap/*.pcap links, as the scenario expects."""
        if not (PCAP_DIR / "g711a.pcap").exists():
            raise AssertionError(f"{PCAP_DIR}/g711a.pcap missing: install the Debian package sip-tester")
        xml = self.workdir / "uac_pcap.xml"
        out = run(["sipp", "-sd", "uac_pcap"], timeout=10)
        # sipp -sd exits 99 after dumping; judge by what it printed.
        assert b"play_pcap_audio" in out.stdout, (out.returncode, out.stderr)
        xml.write_bytes(out.stdout)
        pcap = self.workdir / "pcap"
        pcap.mkdir(exist_ok=True)
        for f in PCAP_DIR.glob("*.pcap"):
            link = pcap / f.name
            if not link.exists():
                try:
                    link.symlink_to(f)
                except OSError:
                    shutil.copy(f, link)
        return xml
