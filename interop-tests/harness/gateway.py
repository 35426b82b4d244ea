"""The gateway under test: start, wait for /healthz, scrape /metrics, stop."""

from __future__ import annotations

import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from . import ports
from .procs import Proc, Processes, tail

REPO = Path(__file__).resolve().parents[2]
LOOPBACK_DIALPLAN = Path(os.environ.get("INTEROP_DIALPLAN", REPO / "dialplans" / "loopback.toml"))

# The metric names the runtime exports (fixed by the gateway's contract).
METRIC_NAMES = [
    "gateway_calls_active",
    "gateway_calls_completed_total",
    "gateway_call_attempts_total",
    "gateway_registrations_active",
    "gateway_sip_transactions_active",
    "gateway_sip_retransmissions_total",
    "gateway_sip_parse_errors_total",
    "gateway_rtp_packets_relayed_total",
    "gateway_rtp_bytes_relayed_total",
]

HEALTH_TIMEOUT = 30.0


def gateway_bin() -> Path:
    path = Path(os.environ.get("GATEWAY_BIN", REPO / "target" / "release" / "gateway"))
    if not path.is_absolute():
        path = (REPO / path).resolve()
    if not path.exists():
        raise AssertionError(
            f"gateway binary not found at {path}: build it with "
            f"`cargo build --release -p gateway` or set GATEWAY_BIN"
        )
    return path


_SAMPLE = re.compile(
    r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)(?:\s+\S+)?$'
)
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass
class Metrics:
    """Parsed Prometheus text exposition: (name, labels) -> value."""

    text: str
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> "Metrics":
        m = cls(text=text)
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            mo = _SAMPLE.match(line)
            if not mo:
                continue
            labels = dict(_LABEL.findall(mo.group("labels") or ""))
            try:
                value = float(mo.group("value"))
            except ValueError:
                continue
            m.samples.append((mo.group("name"), labels, value))
        return m

    def names(self) -> set[str]:
        return {n for n, _, _ in self.samples}

    def get(self, name: str, **labels: str) -> float:
        """Sum of every sample of `name` whose labels include `labels`
        (0 when absent, as Prometheus counters start at 0)."""
        total = 0.0
        for n, ls, v in self.samples:
            if n == name and all(ls.get(k) == val for k, val in labels.items()):
                total += v
        return total

    def has(self, name: str) -> bool:
        # A counter family may be declared (# TYPE) without samples yet.
        if name in self.names():
            return True
        base = name[:-len("_total")] if name.endswith("_total") else name
        return re.search(rf"^# (TYPE|HELP) ({re.escape(name)}|{re.escape(base)}) ",
                         self.text, re.M) is not None


class Gateway:
    """One gateway process on loopback with its own ports and data dir."""

    def __init__(self, procs: Processes, data_dir: Path, dialplan: Path = LOOPBACK_DIALPLAN,
                 extra_args: list[str] | None = None):
        self.procs = procs
        self.bin = gateway_bin()
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.dialplan = Path(dialplan)
        self.sip_port = ports.port()
        self.admin_port = ports.port()
        # WHIP/WHEP listener: its own port, so parallel gateways never
        # compete for the default 8443.
        self.web_port = ports.port()
        # 4 ports per call (two legs, RTP+RTCP); the malformed test peaks
        # near 100 concurrent calls.
        self.rtp_low, self.rtp_high = ports.block(1600)
        self.db_url = f"sqlite://{self.data_dir / 'gw.db'}"
        self.extra_args = extra_args or []
        self.proc: Proc | None = None
        self.starts = 0

    @property
    def argv(self) -> list[str]:
        return [
            str(self.bin), "run",
            "--sip-listen", f"127.0.0.1:{self.sip_port}",
            "--admin-listen", f"127.0.0.1:{self.admin_port}",
            "--rtp-ports", f"{self.rtp_low}-{self.rtp_high}",
            "--db", self.db_url,
            "--dialplan", str(self.dialplan),
            "--data-dir", str(self.data_dir),
            *([] if "--web-listen" in self.extra_args
              else ["--web-listen", f"127.0.0.1:{self.web_port}"]),
            *self.extra_args,
        ]

    @property
    def sip_uri_host(self) -> str:
        return f"127.0.0.1:{self.sip_port}"

    @property
    def log_path(self) -> Path:
        return self.procs.log_dir / "gateway.log"

    def start(self) -> None:
        if not self.dialplan.exists():
            raise AssertionError(f"dialplan {self.dialplan} does not exist")
        env = {"RUST_BACKTRACE": "1"}
        env.setdefault("RUST_LOG", os.environ.get("RUST_LOG", "info"))
        self.starts += 1
        with open(self.log_path, "ab") as f:
            f.write(f"\n===== start #{self.starts}: {' '.join(self.argv)}\n".encode())
        self.proc = self.procs.start("gateway", self.argv, cwd=REPO, env=env,
                                     log_name="gateway.log")
        self.wait_healthy()

    def wait_healthy(self, timeout: float = HEALTH_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc is not None and not self.proc.alive():
                raise AssertionError(
                    f"gateway exited with code {self.proc.popen.returncode} before "
                    f"/healthz answered.\n--- last 200 lines of {self.log_path} ---\n"
                    f"{tail(self.log_path)}"
                )
            try:
                status, _ = self.http_get("/healthz", timeout=1.0)
                if status == 200:
                    return
                last = f"HTTP {status}"
            except OSError as e:
                last = str(e)
            time.sleep(0.1)
        raise AssertionError(
            f"gateway /healthz not 200 within {timeout}s (last: {last}).\n"
            f"--- last 200 lines of {self.log_path} ---\n{tail(self.log_path)}"
        )

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        rc = self.proc.stop(grace=10.0)
        self.proc = None
        return rc

    def http_get(self, path: str, timeout: float = 5.0) -> tuple[int, str]:
        url = f"http://127.0.0.1:{self.admin_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                return r.status, r.read().decode("utf-8", errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", errors="replace")

    def healthz(self) -> int:
        try:
            return self.http_get("/healthz", timeout=2.0)[0]
        except OSError:
            return 0

    def metrics(self) -> Metrics:
        status, body = self.http_get("/metrics")
        assert status == 200, f"/metrics answered HTTP {status}: {body[:500]}"
        return Metrics.parse(body)

    def metric(self, name: str, **labels: str) -> float:
        return self.metrics().get(name, **labels)

    def wait_metric(self, name: str, predicate, timeout: float = 10.0, **labels: str) -> float:
        """Poll until predicate(value) holds; returns the last value either way
        so the caller's assert shows what was seen."""
        deadline = time.monotonic() + timeout
        value = self.metric(name, **labels)
        while not predicate(value) and time.monotonic() < deadline:
            time.sleep(0.2)
            value = self.metric(name, **labels)
        return value

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_h323_gateway(gateway_factory):
    """A started gateway with H.323 on loopback at ports of its own
    (`gw.ras_port`, `gw.cs_port`)."""
    ras, cs = ports.port(), ports.port()
    gw = gateway_factory(extra_args=[
        "--h323-listen", "127.0.0.1", "--h323-ras-port", str(ras), "--h323-cs-port", str(cs)])
    gw.ras_port, gw.cs_port = ras, cs
    gw.start()
    return gw
