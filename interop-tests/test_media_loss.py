"""Packet loss on one leg shows in that leg's quality and not the other's.

The caller (baresip) runs in a network namespace the test creates, joined
to the root namespace by a veth pair with addresses of 10.200.N.0/30 that
exist only during the test; the gateway and the callee listen on the root
side's address. Inside the namespace iptables drops about 10 % of the
caller's outgoing RTP/RTCP at random (the statistic match: tc netem is not
available on every kernel). The CDR must show that loss on leg A and next
to none on leg B, with a lower MOS on A, and /metrics must count the lost
packets. Run once with the audio forwarded (same codec) and once
transcoded (Opus to PCMU), where the gateway terminates RTCP and conceals
the loss before re-encoding.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.gateway import LOOPBACK_DIALPLAN, Gateway
from harness.phones import Baresip, _netstrings, make_tone
from harness.procs import require_tool, wait_until

DROP_PROBABILITY = 0.10

# name: (baresip audio_codecs filter, wav rate, channels, module)
CODECS = {
    "pcmu": ("PCMU/8000/1", 8000, 1, "g711.so"),
    "opus": ("opus/48000/2", 48000, 2, "opus.so"),
}


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), check=check, capture_output=True, text=True, timeout=20)


@dataclass
class Netns:
    name: str
    root_ip: str
    ns_ip: str

    def exec(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return run("ip", "netns", "exec", self.name, *argv, check=check)


@pytest.fixture
def netns():
    require_tool("ip")
    require_tool("iptables")
    tag = os.getpid() % 100000
    subnet = tag % 250 + 1
    ns = Netns(f"gwloss{tag}", f"10.200.{subnet}.1", f"10.200.{subnet}.2")
    root_if, ns_if = f"glr{tag}", f"gln{tag}"
    added = run("ip", "netns", "add", ns.name, check=False)
    if added.returncode != 0:
        pytest.skip(f"cannot create a network namespace here: {added.stderr.strip()}")
    try:
        run("ip", "link", "add", root_if, "type", "veth", "peer", "name", ns_if)
        run("ip", "link", "set", ns_if, "netns", ns.name)
        run("ip", "addr", "add", f"{ns.root_ip}/30", "dev", root_if)
        run("ip", "link", "set", root_if, "up")
        ns.exec("ip", "addr", "add", f"{ns.ns_ip}/30", "dev", ns_if)
        ns.exec("ip", "link", "set", ns_if, "up")
        ns.exec("ip", "link", "set", "lo", "up")
        yield ns
    finally:
        # Deleting one end of the pair deletes both; the namespace takes
        # its iptables rules with it.
        run("ip", "link", "del", root_if, check=False)
        run("ip", "netns", "del", ns.name, check=False)


class VethGateway(Gateway):
    """The harness's gateway with SIP (and so media) on the veth address."""

    def __init__(self, procs, data_dir: Path, ip: str):
        dialplan = Path(data_dir) / "dialplan.toml"
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        text = LOOPBACK_DIALPLAN.read_text()
        old = 'domains = ["127.0.0.1", "localhost"]'
        assert old in text, "the loopback dialplan's domains line changed"
        dialplan.write_text(text.replace(old, f'domains = ["127.0.0.1", "localhost", "{ip}"]'))
        super().__init__(procs, data_dir, dialplan=dialplan)
        self.ip = ip

    @property
    def argv(self) -> list[str]:
        argv = super().argv
        argv[argv.index("--sip-listen") + 1] = f"{self.ip}:{self.sip_port}"
        return argv

    @property
    def sip_uri_host(self) -> str:
        return f"{self.ip}:{self.sip_port}"


class HostBaresip(Baresip):
    """Baresip on a given address, optionally inside a network namespace."""

    def __init__(self, *args, host: str, netns: str | None = None, **kw):
        super().__init__(*args, **kw)
        self.host = host
        self.netns = netns
        config = self.dir / "config"
        config.write_text(config.read_text().replace("127.0.0.1", host))

    def start(self, seconds: int = 60):
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        self.proc = self.procs.start(
            self.name, [*prefix, "baresip", "-f", str(self.dir), "-t", str(seconds)], cwd=self.dir)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self.proc.alive(), f"baresip {self.name} exited early:\n{self.proc.log()[-3000:]}"
            try:
                socket.create_connection((self.host, self.ctrl_port), timeout=0.5).close()
                return self.proc
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"baresip {self.name} ctrl_tcp never listened:\n{self.proc.log()[-3000:]}")

    def command(self, command: str, params: str = "", timeout: float = 5.0) -> dict:
        payload = json.dumps({"command": command, "params": params, "token": "t1"}).encode()
        with socket.create_connection((self.host, self.ctrl_port), timeout=timeout) as s:
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
                for msg in _netstrings(buf):
                    if msg.get("response"):
                        return msg
        raise AssertionError(f"no ctrl_tcp response to {command} from {self.name}: {buf!r}")


def iptables_counts(ns: Netns) -> tuple[int, int]:
    """(packets seen, packets dropped) by the two loss rules."""
    out = ns.exec("iptables", "-L", "OUTPUT", "-v", "-n", "-x").stdout
    # Columns: pkts bytes [target] prot opt ...; the counting rule has no
    # target, so its third column is the protocol.
    rows = [line.split() for line in out.splitlines() if "dpts:" in line]
    seen = next(int(r[0]) for r in rows if r[2] != "DROP")
    dropped = next(int(r[0]) for r in rows if r[2] == "DROP")
    return seen, dropped


@pytest.mark.parametrize("caller,callee", [("pcmu", "pcmu"), ("opus", "pcmu")],
                         ids=["forwarded", "transcoded"])
def test_loss_on_one_leg_shows_in_its_quality(netns, procs, tmp_path, caller, callee):
    gateway = VethGateway(procs, tmp_path / "gw", netns.root_ip)
    try:
        gateway.start()
        ca, rate_a, ch_a, mod_a = CODECS[caller]
        cb, rate_b, ch_b, mod_b = CODECS[callee]
        tone_a = make_tone(tmp_path / "a440.wav", 440, 10, rate=rate_a, channels=ch_a)
        tone_b = make_tone(tmp_path / "b880.wav", 880, 30, rate=rate_b, channels=ch_b)
        registrar = gateway.sip_uri_host
        a = HostBaresip(procs, tmp_path, "baresip-1001", "1001", "pass1001", registrar, tone_a,
                        codec=ca, extra_modules=(mod_a,), answer=False,
                        host=netns.ns_ip, netns=netns.name)
        b = HostBaresip(procs, tmp_path, "baresip-1002", "1002", "pass1002", registrar, tone_b,
                        codec=cb, extra_modules=(mod_b,), answer=True, host=netns.root_ip)

        # Count, then drop at random, what the caller sends to the relay's
        # ports (RTP and RTCP; SIP goes to another port and is spared).
        dports = f"{gateway.rtp_low}:{gateway.rtp_high}"
        match = ["-p", "udp", "-d", netns.root_ip, "--dport", dports]
        netns.exec("iptables", "-A", "OUTPUT", *match)
        netns.exec("iptables", "-A", "OUTPUT", *match, "-m", "statistic", "--mode", "random",
                   "--probability", str(DROP_PROBABILITY), "-j", "DROP")

        b.start(seconds=60)
        a.start(seconds=60)
        regs = gateway.wait_metric("gateway_registrations_active", lambda v: v >= 2, timeout=15)
        assert regs == 2, f"gateway_registrations_active={regs}\n{gateway.log()[-3000:]}"
        reply = a.dial(f"sip:1002@{registrar}")
        assert reply.get("ok", True), f"baresip refused to dial: {reply}"
        assert b.wait_log(r"Call established", timeout=15), (
            f"1002 never established the call\n--- 1001 ---\n{a.log()[-3000:]}\n--- gateway ---\n"
            f"{gateway.log()[-3000:]}")
        # The caller hangs up when its 10 s tone file ends.
        assert a.wait_log(r"terminated", timeout=30), f"1001's call never ended:\n{a.log()[-3000:]}"
        assert b.wait_log(r"terminated", timeout=10), f"1002 never saw the BYE:\n{b.log()[-3000:]}"
        seen, dropped = iptables_counts(netns)
        a.proc.stop()
        b.proc.stop()
        if caller != callee:
            assert "audio transcoded" in gateway.log(), gateway.log()[-3000:]

        assert seen >= 300, f"the caller sent only {seen} packets to the relay"
        injected = 100.0 * dropped / seen
        db = gateway.data_dir / "gw.db"
        row = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and row is None:
            with sqlite3.connect(db) as c:
                row = c.execute(
                    "SELECT loss_pct_a, loss_pct_b, mos_a, mos_b, jitter_ms_a, rtt_ms FROM cdrs "
                    "WHERE outcome = 'answered'").fetchone()
            time.sleep(0.2)
        assert row is not None, "no CDR for the answered call"
        loss_a, loss_b, mos_a, mos_b, jitter_a, rtt = row
        print(f"\n[{caller}->{callee}] injected {injected:.1f}% ({dropped}/{seen}); CDR loss "
              f"A {loss_a}% B {loss_b}%, MOS A {mos_a} B {mos_b}, jitter A {jitter_a} ms, "
              f"rtt {rtt} ms")
        assert loss_a is not None and 5.0 <= loss_a <= 20.0, f"leg A loss: {row}"
        # The CDR measures what arrived; it tracks what iptables dropped.
        assert abs(loss_a - injected) < 3.0, f"CDR loss {loss_a}% vs injected {injected:.1f}%"
        assert loss_b is not None and loss_b < 1.0, f"leg B should be clean: {row}"
        assert mos_a is not None and mos_b is not None and mos_a < mos_b - 0.3, (
            f"loss should cost leg A MOS: {row}")

        metrics = gateway.metrics()
        lost = metrics.get("gateway_rtp_packets_lost_total")
        expected = metrics.get("gateway_rtp_packets_expected_total")
        assert expected > 0 and 2.0 <= 100.0 * lost / expected <= 12.0, (
            f"metrics: lost {lost} of {expected} over both legs")
    finally:
        gateway.stop()
