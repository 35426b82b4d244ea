"""H.245 on a TCP connection of its own, against the gateway process,
driven by the project's H.323 simulator (h323/sim.py, pycrate): a room that
does not tunnel names its h245Address in the Setup and the gateway connects
to it; a room that names none is told the gateway's address (Facility
startH245) and connects. Capability exchange and master/slave determination
run over TPKT on that connection, a UII digit sent on it reaches the
gateway, RTP flows both ways, the room's release closes the connection,
and a broken H.245 stream ends its own call only. The gateway never
tunnels with such a room (no h245Control, h245Tunnelling FALSE)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from harness import ports
from harness.procs import wait_until

sys.path.insert(0, str(Path(__file__).parent / "h323"))
import sim  # noqa: E402

ROOM = [("h323-ID", "room-2001"), ("dialledDigits", "2001")]
LOOPBACK = Path(__file__).resolve().parents[1] / "dialplans" / "loopback.toml"


@pytest.fixture
def gw(gateway_factory):
    ras, cs = ports.port(), ports.port()
    g = gateway_factory(dialplan=LOOPBACK, extra_args=[
        "--h323-listen", "127.0.0.1", "--h323-ras-port", str(ras), "--h323-cs-port", str(cs)])
    g.ras_port, g.cs_port = ras, cs
    g.start()
    return g


def register(gw) -> tuple[sim.Ras, str]:
    ras = sim.Ras(("127.0.0.1", gw.ras_port))
    kind, rcf = ras.rrq(ROOM, cs_port=1720)
    assert kind == "registrationConfirm", (kind, rcf)
    return ras, rcf["endpointIdentifier"]


def call_without_tunnelling(gw, eid: str, rtp: sim.Rtp, crv: int,
                            h245: tuple[str, int] | None) -> sim.Call:
    call = sim.Call(("127.0.0.1", gw.cs_port), crv=crv, tunnelling=False)
    call.connect()
    fast_start = [sim.olc_fast_start(1, "127.0.0.1", rtp.port, receive=False),
                  sim.olc_fast_start(2, "127.0.0.1", rtp.port, receive=True)]
    call.setup("8000", ROOM, fast_start, endpoint_id=eid, h245_address=h245)
    return call


def assert_never_tunnelled(call: sim.Call):
    for m in call.messages:
        pdu = m["uu"]["h323-uu-pdu"]
        assert not pdu.get("h245Tunnelling"), m
        assert not pdu.get("h245Control"), m


def exchange(link: sim.H245Link):
    """The gateway's TCS and MSD arrive on the connection and are answered;
    its acks of ours come back."""
    assert link.wait_for("terminalCapabilitySet", 5), link.pdus
    assert link.wait_for("masterSlaveDetermination", 5), link.pdus
    assert link.wait_for("terminalCapabilitySetAck", 5), link.pdus
    assert link.wait_for("masterSlaveDeterminationAck", 5), link.pdus


def test_the_gateway_connects_to_the_h245_address_a_room_names(gw):
    ras, eid = register(gw)
    rtp = sim.Rtp()
    link = sim.H245Link.listen()
    try:
        call = call_without_tunnelling(gw, eid, rtp, 0x2345, link.address)
        connect = call.wait_for("connect", 5)
        assert connect, f"no Connect: {call.messages}\n{gw.log()[-3000:]}"
        remote, codec = call.fast_start_answer()
        assert remote and codec == "g711Ulaw64k", (remote, codec)
        rtp.start(remote, 1000.0, seconds=10)
        assert link.accept(5), f"the gateway did not connect to our h245Address\n{gw.log()[-3000:]}"
        exchange(link)

        link.send(("indication", ("userInput", ("alphanumeric", "5"))))
        link.send(("request", ("roundTripDelayRequest", {"sequenceNumber": 9})))
        rsp = link.wait_for("roundTripDelayResponse", 5)
        assert rsp and rsp[1][1]["sequenceNumber"] == 9, link.pdus
        assert wait_until(lambda: "digit=5" in gw.log(), timeout=5), gw.log()[-2000:]
        assert wait_until(lambda: len(rtp.received) > 20, timeout=5), "no RTP from the meeting"

        call.release()
        assert call.wait_closed(5)
        assert link.wait_closed(5), "the gateway kept the H.245 connection after the release"
        assert_never_tunnelled(call)
        assert wait_until(lambda: gw.metric("gateway_calls_active") == 0, timeout=5)
    finally:
        link.close()
        rtp.stop()
        ras.close()


def test_a_room_naming_no_address_connects_to_ours_and_a_broken_stream_ends_its_call_only(gw):
    ras, eid = register(gw)
    rtp_good, rtp_bad = sim.Rtp(), sim.Rtp()
    good_link = sim.H245Link.listen()
    bad_link = sim.H245Link()
    try:
        good = call_without_tunnelling(gw, eid, rtp_good, 0x3001, good_link.address)
        assert good.wait_for("connect", 5), good.messages
        assert good_link.accept(5)
        exchange(good_link)
        remote, _ = good.fast_start_answer()
        rtp_good.start(remote, 700.0, seconds=15)

        bad = call_without_tunnelling(gw, eid, rtp_bad, 0x3002, None)
        facility = bad.wait_for("facility", 5)
        assert facility, f"no Facility: {bad.messages}\n{gw.log()[-3000:]}"
        body = facility["uu"]["h323-uu-pdu"]["h323-message-body"][1]
        assert body["reason"][0] == "startH245", body
        addr = bad.h245_address()
        assert addr and addr[0] == "127.0.0.1", (addr, facility)
        # the meeting answers at once: Connect may go before the port is open
        assert "connect" in [m["name"] for m in bad.messages] or bad.wait_for("connect", 5)
        bad_link.connect(addr)
        exchange(bad_link)
        assert gw.wait_metric("gateway_calls_active", lambda v: v >= 2, timeout=5) == 2

        # not TPKT on the bad call's H.245: released as a protocol error
        bad_link.send_raw(b"GET / HTTP/1.0\r\n\r\n")
        rc = bad.wait_for("releaseComplete", 5)
        assert rc and rc["cause"] == 111, rc
        assert bad.wait_closed(5) and bad_link.wait_closed(5)

        # the good call is untouched: H.245 still answers, media flows
        good_link.send(("request", ("roundTripDelayRequest", {"sequenceNumber": 3})))
        assert good_link.wait_for("roundTripDelayResponse", 5), good_link.pdus
        n = len(rtp_good.received)
        time.sleep(1.5)
        assert len(rtp_good.received) > n + 20, "media of the good call stopped"
        assert gw.metric("gateway_calls_active") == 1
        assert not good.closed and not good_link.closed

        # the room closes its H.245 connection: that ends its call
        good_link.close()
        rc = good.wait_for("releaseComplete", 5)
        assert rc, good.messages
        assert good.wait_closed(5)
        assert wait_until(lambda: gw.metric("gateway_calls_active") == 0, timeout=5)
        assert_never_tunnelled(good)
        assert_never_tunnelled(bad)
    finally:
        good_link.close()
        bad_link.close()
        rtp_good.stop()
        rtp_bad.stop()
        ras.close()
