"""DTMF between an H.323 room and a SIP trunk callee, both signalling ways.

Room 2001 (the project's H.323 simulator, pycrate) dials 5000, which the
loopback dialplan sends to its trunk (127.0.0.1:5070, a small Python UA).
- A room that does not register calls straight to 1720 from 127.0.0.1: it
  is admitted as the trunk whose ACL holds that address (the CDR says
  trunk:loopback-trunk). The callee answers PCMU without telephone-event
  and signals digits by INFO (application/dtmf-relay 5, application/dtmf
  7): the room gets them as H.245 userInput, and its own userInput 3
  reaches the callee as one INFO Signal=3.
- A registered room's userInput 9 reaches a callee that answered with
  telephone-event as RFC 4733 events (event 9, end reports) in its RTP
  stream, and no INFO."""

from __future__ import annotations

import socket
import sqlite3
import struct
import sys
import threading
import time
from pathlib import Path

from harness import ports
from harness.procs import wait_until
from harness.gateway import start_h323_gateway
from test_sipp_dtmf import InfoOnlyCallee

sys.path.insert(0, str(Path(__file__).parent / "h323"))
import sim  # noqa: E402

ROOM = [("h323-ID", "room-2001"), ("dialledDigits", "2001")]


class EventCallee(InfoOnlyCallee):
    """Answers PCMU with telephone-event 101 and keeps the RTP it gets."""

    def answer(self, timeout: float = 20):
        invite = self.recv(timeout, lambda m: m.method == "INVITE")
        assert invite is not None, "the gateway's INVITE never reached the callee"
        self.invite = invite
        sdp = invite.body.decode()
        conn = next(line for line in sdp.split("\r\n") if line.startswith("c="))
        media = next(line for line in sdp.split("\r\n") if line.startswith("m=audio"))
        self.media_to = (conn.split()[-1], int(media.split()[1]))
        rtp_port = self.rtp.getsockname()[1]
        answer = ("v=0\r\no=callee 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
                  f"t=0 0\r\nm=audio {rtp_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
                  "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
                  "a=sendrecv\r\n").encode()
        self.reply(invite, 200, "OK", answer,
                   extra=[("Contact", f"<sip:callee@127.0.0.1:{self.port}>")])
        assert self.recv(10, lambda m: m.method == "ACK") is not None, "no ACK"
        self.packets = []
        threading.Thread(target=self._audio, daemon=True).start()
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self):
        self.rtp.settimeout(0.2)
        while not self.stop.is_set():
            try:
                data, _ = self.rtp.recvfrom(2048)
            except (socket.timeout, OSError):
                continue
            if len(data) >= 16 and data[0] >> 6 == 2:
                self.packets.append((data[1] & 0x7F, data[12:]))

    def events(self) -> list[tuple[int, bool]]:
        """(event code, end bit) of each telephone-event packet."""
        return [(p[0], bool(p[1] & 0x80)) for pt, p in self.packets if pt == 101]


def pump(call: sim.Call, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not call.closed:
        call.read_message(min(0.2, max(0.0, deadline - time.monotonic())))


def room_user_input(call: sim.Call) -> list[str]:
    out = []
    for kind, (sub, body) in call.h245_in:
        if kind == "indication" and sub == "userInput":
            out.append(body[1]["signalType"] if body[0] == "signal" else body[1])
    return out


def dial(gw, rtp: sim.Rtp, eid: str | None) -> sim.Call:
    call = sim.Call(("127.0.0.1", gw.cs_port))
    call.connect()
    fast_start = [sim.olc_fast_start(1, "127.0.0.1", rtp.port, receive=False),
                  sim.olc_fast_start(2, "127.0.0.1", rtp.port, receive=True)]
    call.setup("5000", ROOM, fast_start, endpoint_id=eid)
    return call


def test_unregistered_room_and_an_info_callee_exchange_digits(gateway_factory):
    gw = start_h323_gateway(gateway_factory)
    ports.require_free(ports.TRUNK_PORT, "the INFO-only callee (trunk)")
    callee = InfoOnlyCallee(ports.TRUNK_PORT)
    rtp = sim.Rtp()
    try:
        call = dial(gw, rtp, None)
        callee.answer()
        assert call.wait_for("connect", 10), (
            f"no Connect: {[m['name'] for m in call.messages]}\n{gw.log()[-3000:]}")
        remote, _ = call.fast_start_answer()
        rtp.start(remote, 800.0, seconds=8)
        pump(call, 1.0)
        ok = callee.info("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n")
        assert ok is not None and ok.status == 200, ok and ok.raw
        ok = callee.info("application/dtmf", b"7")
        assert ok is not None and ok.status == 200, ok and ok.raw
        pump(call, 1.5)
        assert room_user_input(call) == ["5", "7"], (call.h245_in, gw.log()[-3000:])

        call.uii("3", signal=True)
        assert wait_until(lambda: callee.recv(0.2, lambda m: False) is None and any(
            not m.is_response and m.method == "INFO" for m in callee.received), timeout=5)
        call.release(16)
        assert callee.recv(10, lambda m: m.method == "BYE") is not None, "no BYE"
    finally:
        rtp.stop()
        callee.close()
    infos = [m for m in callee.received if not m.is_response and m.method == "INFO"]
    assert len(infos) == 1 and b"Signal=3" in infos[0].body, [m.raw for m in infos]
    assert wait_until(lambda: gw.metric("gateway_calls_active") == 0, timeout=10)
    with sqlite3.connect(gw.data_dir / "gw.db") as c:
        rows = c.execute("SELECT outcome, caller, callee FROM cdrs").fetchall()
    assert rows == [("answered", "trunk:loopback-trunk", "5000")], rows


def test_registered_rooms_user_input_reaches_an_rfc4733_callee(gateway_factory):
    gw = start_h323_gateway(gateway_factory)
    ports.require_free(ports.TRUNK_PORT, "the telephone-event callee (trunk)")
    callee = EventCallee(ports.TRUNK_PORT)
    ras = sim.Ras(("127.0.0.1", gw.ras_port))
    rtp = sim.Rtp()
    try:
        kind, rcf = ras.rrq(ROOM, cs_port=1720)
        assert kind == "registrationConfirm", (kind, rcf)
        call = dial(gw, rtp, rcf["endpointIdentifier"])
        callee.answer()
        assert call.wait_for("connect", 10), (
            f"no Connect: {[m['name'] for m in call.messages]}\n{gw.log()[-3000:]}")
        remote, _ = call.fast_start_answer()
        rtp.start(remote, 800.0, seconds=8)
        pump(call, 1.5)
        call.uii("9", signal=True)
        assert wait_until(lambda: any(end for _, end in callee.events()), timeout=5), (
            callee.packets[-5:], gw.log()[-3000:])
        time.sleep(0.5)
        call.release(16)
        assert callee.recv(10, lambda m: m.method == "BYE") is not None, "no BYE"
    finally:
        rtp.stop()
        ras.close()
        callee.close()
    events = callee.events()
    assert {code for code, _ in events} == {9}, events
    assert sum(1 for _, end in events if end) == 3, events
    infos = [m for m in callee.received if not m.is_response and m.method == "INFO"]
    assert not infos, [m.raw for m in infos]
    # audio came too (PCMU), not only events
    assert any(pt == 0 for pt, _ in callee.packets)
    with sqlite3.connect(gw.data_dir / "gw.db") as c:
        rows = c.execute("SELECT caller FROM cdrs").fetchall()
    assert rows == [("endpoint:2001",)], rows
