"""Real SIP phones (baresip, linphonec) and the sox tools that judge audio."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

from . import ports
from .procs import Proc, Processes, require_tool, run

BARESIP_MODULES = Path("/usr/lib/baresip/modules")


# ----------------------------------------------------------------- audio (sox)

def make_tone(path: Path, freq: int, seconds: float, rate: int = 8000, channels: int = 1) -> Path:
    out = run(["sox", "-n", "-r", str(rate), "-c", str(channels), "-b", "16", str(path),
               "synth", str(seconds), "sine", str(freq)], timeout=30)
    assert out.returncode == 0, f"sox could not make {path}: {out.stderr.decode(errors='replace')}"
    return path


def wav_stat(path: Path) -> dict[str, float]:
    """`sox FILE -n stat` as a dict (keys like 'Rough frequency', 'Length (seconds)')."""
    out = run(["sox", str(path), "-n", "stat"], timeout=30)
    text = out.stderr.decode(errors="replace")
    assert out.returncode == 0, f"sox stat failed on {path}: {text}"
    stats = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            try:
                stats[" ".join(key.split())] = float(value.strip().split()[0])
            except (ValueError, IndexError):
                pass
    return stats


def assert_tone(path: Path, freq: float, min_seconds: float, tolerance: float = 0.10) -> dict:
    stats = wav_stat(path)
    heard = stats.get("Rough frequency", 0.0)
    length = stats.get("Length (seconds)", 0.0)
    rms = stats.get("RMS amplitude", 0.0)
    assert length >= min_seconds, f"{path}: only {length}s of received audio (want ≥{min_seconds}s): {stats}"
    assert abs(heard - freq) <= freq * tolerance, (
        f"{path}: heard {heard} Hz, expected {freq} Hz ±{int(tolerance * 100)}% "
        f"(RMS amplitude {rms}); full stat: {stats}")
    return stats


# --------------------------------------------------------------------- baresip

class Baresip:
    """One baresip instance with its own config folder, driven over ctrl_tcp."""

    def __init__(self, procs: Processes, root: Path, name: str, user: str, password: str,
                 registrar: str, source_wav: Path, codec: str = "PCMU/8000/1",
                 extra_modules: tuple[str, ...] = ("g711.so",), answer: bool = True,
                 regint: int = 3600, transport: str = "udp", mediaenc: str | None = None,
                 extra_config: str = ""):
        require_tool("baresip")
        assert (BARESIP_MODULES / "ctrl_tcp.so").exists(), (
            f"{BARESIP_MODULES}/ctrl_tcp.so missing: install the Debian package baresip")
        self.procs = procs
        self.name = name
        self.user = user
        self.dir = Path(root) / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dump = self.dir / "dump"
        self.dump.mkdir(exist_ok=True)
        # TLS takes sip port + 1: reserve two.
        self.sip_port = ports.port(step=2)
        self.ctrl_port = ports.port()
        rtp_low, rtp_high = ports.block(100)
        modules = "\n".join(f"module {m}" for m in (*extra_modules, "aufile.so", "aubridge.so",
                                                    "sndfile.so"))
        (self.dir / "config").write_text(f"""\
poll_method epoll
sip_listen 127.0.0.1:{self.sip_port}
net_interface 127.0.0.1
audio_player aubridge,nil
audio_source aufile,{source_wav}
audio_alert aubridge,nil
rtp_ports {rtp_low}-{rtp_high}
snd_path {self.dump}
module_path {BARESIP_MODULES}
{modules}
module_app account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}
{extra_config}
""")
        params = [f"auth_pass={password}", f"regint={regint}", f"audio_codecs={codec}"]
        if answer:
            params.append("answermode=auto")
        if mediaenc:
            params.append(f"mediaenc={mediaenc}")
        uri = f"sip:{user}@{registrar}" + (f";transport={transport}" if transport != "udp" else "")
        (self.dir / "accounts").write_text(f"<{uri}>;{';'.join(params)}\n")
        self.proc: Proc | None = None

    def start(self, seconds: int = 60) -> Proc:
        # -t bounds the instance's life even if every stop below failed.
        self.proc = self.procs.start(self.name, ["baresip", "-f", str(self.dir), "-t", str(seconds)],
                                     cwd=self.dir)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self.proc.alive(), f"baresip {self.name} exited early:\n{self.proc.log()[-3000:]}"
            try:
                socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=0.5).close()
                return self.proc
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"baresip {self.name} ctrl_tcp never listened:\n{self.proc.log()[-3000:]}")

    def command(self, command: str, params: str = "", timeout: float = 5.0) -> dict:
        """Send one ctrl_tcp command (netstring-framed JSON) and read its reply."""
        payload = json.dumps({"command": command, "params": params, "token": "t1"}).encode()
        with socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=timeout) as s:
            s.sendall(str(len(payload)).encode() + b":" + payload + b",")
            buf = b""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                buf += chunk
                # Events may precede the response; return the response.
                for msg in _netstrings(buf):
                    if msg.get("response"):
                        return msg
        raise AssertionError(f"no ctrl_tcp response to {command} {params} from {self.name}: {buf!r}")

    def dial(self, uri: str) -> dict:
        return self.command("dial", uri)

    def log(self) -> str:
        return self.proc.log() if self.proc else ""

    def dec_wavs(self) -> list[Path]:
        return sorted(self.dump.glob("*dec.wav"))

    def wait_log(self, pattern: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while time.monotonic() < deadline:
            if rx.search(self.log()):
                return True
            time.sleep(0.2)
        return False


def _netstrings(buf: bytes):
    out = []
    while True:
        head, sep, rest = buf.partition(b":")
        if not sep or not head.isdigit():
            return out
        n = int(head)
        if len(rest) < n + 1:
            return out
        try:
            out.append(json.loads(rest[:n]))
        except ValueError:
            pass
        buf = rest[n + 1:]


# ------------------------------------------------------------------- linphonec

class Linphonec:
    """linphonec fed commands on stdin, with files as its sound card."""

    def __init__(self, procs: Processes, root: Path, name: str = "linphonec"):
        require_tool("linphonec")
        self.procs = procs
        self.name = name
        self.dir = Path(root) / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.home = self.dir / "home"
        # Without this folder linphonec opens no SIP port at all.
        (self.home / ".local" / "share" / "linphone").mkdir(parents=True, exist_ok=True)
        (self.home / ".config").mkdir(parents=True, exist_ok=True)
        self.sip_port = ports.port(step=2)
        rtp = ports.port(step=2)
        self.rc = self.dir / "lp.rc"
        self.rc.write_text(f"""\
[sip]
sip_port={self.sip_port}
sip_tcp_port=0
sip_tls_port=0
bind_address=127.0.0.1
default_proxy=-1
register_only_when_network_is_up=0
[net]
nat_address=127.0.0.1
firewall_policy=0
[rtp]
audio_rtp_port={rtp}
bind_address=127.0.0.1
audio_jitt_comp=60
[sound]
echocancellation=0
[video]
enabled=0
capture=0
display=0
""")
        self.proc: Proc | None = None

    def start(self) -> Proc:
        self.proc = self.procs.start(
            self.name, ["linphonec", "-c", str(self.rc), "-a"], cwd=self.dir,
            env={"HOME": str(self.home), "XDG_DATA_HOME": str(self.home / ".local" / "share"),
                 "XDG_CONFIG_HOME": str(self.home / ".config")},
            stdin_pipe=True)
        return self.proc

    def send(self, line: str) -> None:
        assert self.proc is not None and self.proc.alive(), (
            f"linphonec is not running:\n{self.log()[-3000:]}")
        self.proc.send(line)

    def log(self) -> str:
        return self.proc.log() if self.proc else ""

    def wait_log(self, pattern: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern, re.I)
        while time.monotonic() < deadline:
            if rx.search(self.log()):
                return True
            time.sleep(0.2)
        return False


def tone_levels(path: Path, freqs: list[float], start: float, seconds: float) -> dict[float, float]:
    """Power of each frequency (dB relative to a full-scale sine) in
    [start, start+seconds) of a 16-bit wav, by the Goertzel algorithm: a
    mix of several tones, where sox's single "rough frequency" says nothing."""
    import math
    import wave

    with wave.open(str(path), "rb") as w:
        rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
        assert width == 2, f"{path}: {8 * width}-bit samples, expected 16"
        w.setpos(min(int(start * rate), w.getnframes()))
        raw = w.readframes(int(seconds * rate))
    samples = memoryview(raw).cast("h")[::channels]
    n = len(samples)
    assert n >= rate * seconds * 0.9, f"{path}: only {n / rate:.1f}s from {start}s, wanted {seconds}s"
    levels = {}
    for f in freqs:
        coeff = 2 * math.cos(2 * math.pi * f / rate)
        s1 = s2 = 0.0
        for x in samples:
            s1, s2 = x + coeff * s1 - s2, s1
        power = s1 * s1 + s2 * s2 - coeff * s1 * s2
        # A full-scale sine of n samples has Goertzel power (32767 * n / 2)^2.
        ref = (32767 * n / 2) ** 2
        levels[f] = 10 * math.log10(max(power, 1e-9) / ref)
    return levels
