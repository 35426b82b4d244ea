"""H.323 calls into the gateway, driven by the project's H.323 endpoint
simulator (h323/sim.py, pycrate): room 2001 registers, is admitted, calls
meeting 8000 with Fast Start and meets two SIP phones (baresip): each side
hears the others' tones and not its own. UII digits arrive, either side
releases, a secret meeting refuses the plain H.323 leg with securityDenied,
a call to an unregistered SIP phone is released with Q.850 18, and a broken
message (bad PER, bad Q.931) ends only its own call. The gateway's H.225
messages dissect in tshark without malformed packets or expert errors."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from harness import ports
from harness.capture import start_capture
from harness.phones import Baresip, make_tone, tone_levels
from harness.procs import require_tool, run, wait_until

sys.path.insert(0, str(Path(__file__).parent / "h323"))
import sim  # noqa: E402

ROOM = [("h323-ID", "room-2001"), ("dialledDigits", "2001")]
LOOPBACK = Path(__file__).resolve().parents[1] / "dialplans" / "loopback.toml"


def start_h323_gateway(gateway_factory, dialplan: Path = LOOPBACK):
    ras, cs = ports.port(), ports.port()
    gw = gateway_factory(dialplan=dialplan, extra_args=[
        "--h323-listen", "127.0.0.1", "--h323-ras-port", str(ras), "--h323-cs-port", str(cs)])
    gw.ras_port, gw.cs_port = ras, cs
    gw.start()
    return gw


@pytest.fixture
def h323_gateway(gateway_factory):
    return start_h323_gateway(gateway_factory)


def register(gw) -> tuple[sim.Ras, str]:
    ras = sim.Ras(("127.0.0.1", gw.ras_port))
    kind, rcf = ras.rrq(ROOM, cs_port=1720)
    assert kind == "registrationConfirm", (kind, rcf)
    return ras, rcf["endpointIdentifier"]


def place_call(gw, dest: str, rtp: sim.Rtp | None, endpoint_id: str | None = None,
               crv: int = 0x1234) -> sim.Call:
    call = sim.Call(("127.0.0.1", gw.cs_port), crv=crv)
    call.connect()
    fast_start = None
    if rtp is not None:
        fast_start = [sim.olc_fast_start(1, "127.0.0.1", rtp.port, receive=False),
                      sim.olc_fast_start(2, "127.0.0.1", rtp.port, receive=True)]
    call.setup(dest, ROOM, fast_start, endpoint_id=endpoint_id)
    return call


def test_h323_room_and_two_sip_phones_in_meeting_8000(h323_gateway, procs, tmp_path):
    gw = h323_gateway
    require_tool("tshark")
    pcap = tmp_path / "h225.pcap"
    cap = start_capture(procs, pcap, f"tcp port {gw.cs_port}")
    time.sleep(1)

    tones = {"1001": 500.0, "1002": 800.0}
    room_tone = 1300.0
    phones = {}
    for user, freq in tones.items():
        wav = make_tone(tmp_path / f"{user}.wav", int(freq), 14)
        phones[user] = Baresip(procs, tmp_path, f"baresip-{user}", user, f"pass{user}",
                               gw.sip_uri_host, wav, answer=False)
        phones[user].start(seconds=60)
    gw.wait_metric("gateway_registrations_active", lambda v: v >= 2, timeout=15)

    ras, eid = register(gw)
    call_id = None
    rtp = sim.Rtp()
    try:
        call = place_call(gw, "8000", rtp, endpoint_id=eid)
        kind, acf = ras.arq(eid, "8000", call.call_id, call.conf_id, call.crv, ROOM)
        assert kind == "admissionConfirm", (kind, acf)
        assert call.wait_for("callProceeding", 5), f"no CallProceeding: {call.messages}"
        connect = call.wait_for("connect", 5)
        assert connect, f"no Connect: {call.messages}\n{gw.log()[-3000:]}"
        remote, codec = call.fast_start_answer()
        assert remote and codec == "g711Ulaw64k", (remote, codec, connect)
        rtp.start(remote, room_tone, seconds=14)
        for p in phones.values():
            reply = p.dial(f"sip:8000@{gw.sip_uri_host}")
            assert reply.get("ok", True), reply
        for p in phones.values():
            assert p.wait_log(r"Call established", timeout=15), p.log()[-3000:]
        assert gw.wait_metric("gateway_calls_active", lambda v: v >= 3, timeout=5) == 3

        # the gateway's tunnelled TCS and MSD came with or after the Connect
        call.read_message(2)
        sent = {body[0] for kind, body in call.h245_in}
        assert "terminalCapabilitySet" in sent, call.h245_in

        time.sleep(2)
        call.uii("5")
        call.uii("#", signal=True)
        assert wait_until(lambda: "digit=5" in gw.log() and "digit=#" in gw.log(), timeout=5), (
            f"UII digits 5 (alphanumeric) and # (signal) not both reported:\n{gw.log()[-2000:]}")

        # all three talk for a while, then the room hangs up first
        time.sleep(8)
        call.release()
        assert call.wait_closed(5), "the gateway kept the connection after ReleaseComplete"
        kind, _ = ras.drq(eid, call.call_id, call.conf_id, call.crv)
        assert kind == "disengageConfirm"
        assert wait_until(lambda: gw.metric("gateway_calls_active") == 2, timeout=5)
        rtp.stop()
        kind, _ = ras.urq(eid, 1720)
        assert kind == "unregistrationConfirm"
    finally:
        ras.close()
        rtp.stop()
    for p in phones.values():
        assert p.wait_log(r"terminated", timeout=30), p.log()[-3000:]
        p.proc.stop()
    assert wait_until(lambda: gw.metric("gateway_calls_active") == 0, timeout=10)
    time.sleep(1)
    cap.stop()

    # what the room heard: both phones, not itself (seconds 3..8 of its audio)
    room_wav = rtp.write_wav(tmp_path / "room-received.wav")
    levels = tone_levels(room_wav, [500.0, 800.0, room_tone], start=3, seconds=5)
    print("room", {f: round(v, 1) for f, v in levels.items()})
    for f in tones.values():
        assert levels[f] > -30, f"the H.323 room does not hear {f} Hz: {levels}"
    assert levels[room_tone] < min(levels[f] for f in tones.values()) - 20, levels
    # what each phone heard: the room's tone while it was in the meeting
    for user, own in tones.items():
        wavs = phones[user].dec_wavs()
        assert wavs, f"{user}: no decoded audio"
        lv = tone_levels(wavs[-1], [room_tone, own], start=3, seconds=5)
        print(user, {f: round(v, 1) for f, v in lv.items()})
        assert lv[room_tone] > -30, f"{user} does not hear the H.323 room: {lv}"

    assert "left meeting" in gw.log()
    assert_h225_dissects(pcap, gw.cs_port, min_messages=3)


def assert_h225_dissects(pcap: Path, cs_port: int, min_messages: int):
    # tshark's Q.931-over-TPKT heuristic finds H.225 on any TCP port;
    # forcing "tpkt" there would hand the payload to COTP instead
    decode: list[str] = []
    out = run(["tshark", "-n", "-r", str(pcap), *decode, "-Y", f"tcp.srcport=={cs_port} && q931",
               "-T", "fields", "-e", "q931.message_type", "-e", "h225.h323_message_body"], timeout=60)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    rows = [r for r in out.stdout.decode().splitlines() if r.strip()]
    assert len(rows) >= min_messages, f"tshark dissected {len(rows)} gateway Q.931 messages: {rows}"
    assert all(r.split("\t")[1] for r in rows), f"a message without a dissected H.323-UU-PDU: {rows}"
    bad = run(["tshark", "-n", "-r", str(pcap), *decode, "-Y",
               f"tcp.srcport=={cs_port} && (_ws.malformed || _ws.expert.severity >= warning)"], timeout=60)
    assert bad.returncode == 0, bad.stderr.decode(errors="replace")
    text = bad.stdout.decode().strip()
    assert not text, f"tshark finds malformed/expert errors in the gateway's H.225:\n{text}"


def test_secret_meeting_refuses_the_plain_h323_leg(h323_gateway):
    gw = h323_gateway
    ras, eid = register(gw)
    rtp = sim.Rtp()
    try:
        call = place_call(gw, "8001", rtp, endpoint_id=eid)
        rc = call.wait_for("releaseComplete", 5)
        assert rc, f"no ReleaseComplete: {call.messages}"
        assert call.release_reason(rc) == "securityDenied", rc
        assert call.wait_closed(5)
        assert "plain H.323 leg refused from a classified meeting" in gw.log()
    finally:
        ras.close()
        rtp.stop()


def test_call_to_an_unregistered_sip_endpoint_is_released_with_its_cause(h323_gateway):
    """H.323 to SIP goes through the neutral call (test_h323_sip_call.py);
    a SIP phone that is not registered reaches the room as the Q.850 cause
    of SIP 480 (RFC 3398: 18, no user responding)."""
    gw = h323_gateway
    ras, eid = register(gw)
    rtp = sim.Rtp()
    try:
        call = place_call(gw, "1001", rtp, endpoint_id=eid)
        rc = call.wait_for("releaseComplete", 5)
        assert rc and rc["cause"] == 18, rc
        assert "1001 is not registered" in gw.log()
    finally:
        ras.close()
        rtp.stop()


def test_broken_messages_end_only_their_own_call(h323_gateway, procs, tmp_path):
    gw = h323_gateway
    require_tool("tshark")
    pcap = tmp_path / "h225-bad.pcap"
    cap = start_capture(procs, pcap, f"tcp port {gw.cs_port}")
    time.sleep(1)
    ras, eid = register(gw)
    rtp = sim.Rtp()
    try:
        good = place_call(gw, "8000", rtp, endpoint_id=eid)
        assert good.wait_for("connect", 5), good.messages
        remote, _ = good.fast_start_answer()
        rtp.start(remote, 1000.0, seconds=20)
        assert gw.wait_metric("gateway_calls_active", lambda v: v >= 1, timeout=5) == 1

        # bad PER in the User-user IE of a Setup
        bad = sim.Call(("127.0.0.1", gw.cs_port), crv=0x0777)
        bad.connect()
        ies = sim.ie(0x04, b"\x80\x90\xa2") + sim.uu_ie(b"\xff\xff\xff\xff\x00\x01")
        bad.send_frame(sim.q931(sim.SETUP, 0x0777, ies))
        rc = bad.wait_for("releaseComplete", 5)
        assert rc and rc["cause"] == 95, rc  # invalid message, unspecified
        assert rc["crv"] == 0x0777
        assert bad.wait_closed(5)

        # bad Q.931: an IE longer than the message
        bad2 = sim.Call(("127.0.0.1", gw.cs_port), crv=0x0778)
        bad2.connect()
        bad2.send_frame(sim.q931(sim.SETUP, 0x0778, b"\x70\x30\x81"))
        rc = bad2.wait_for("releaseComplete", 5)
        assert rc and rc["cause"] == 95, rc
        assert bad2.wait_closed(5)

        # garbage that is not even TPKT: the connection is dropped
        bad3 = sim.Call(("127.0.0.1", gw.cs_port))
        bad3.connect()
        bad3.sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert bad3.wait_closed(5)

        # the good call is untouched: still in the meeting, media flowing
        n = len(rtp.received)
        time.sleep(1.5)
        assert len(rtp.received) > n + 20, "media of the good call stopped"
        assert gw.metric("gateway_calls_active") == 1
        assert not good.closed
        good.release()
        assert good.wait_closed(5)
        assert wait_until(lambda: gw.metric("gateway_calls_active") == 0, timeout=5)
    finally:
        ras.close()
        rtp.stop()
    time.sleep(1)
    cap.stop()
    assert_h225_dissects(pcap, gw.cs_port, min_messages=4)


def test_gateway_releases_at_the_maximum_duration(gateway_factory, tmp_path):
    plan = tmp_path / "dialplan.toml"
    text = LOOPBACK.read_text()
    short = text.replace("max_duration_secs = 14400", "max_duration_secs = 3")
    assert short != text
    plan.write_text(short)
    gw = start_h323_gateway(gateway_factory, plan)
    ras, eid = register(gw)
    rtp = sim.Rtp()
    try:
        call = place_call(gw, "8000", rtp, endpoint_id=eid)
        assert call.wait_for("connect", 5), call.messages
        rc = call.wait_for("releaseComplete", 8)
        assert rc and rc["cause"] == 16, rc
        assert call.wait_closed(5)
        assert wait_until(lambda: gw.metric("gateway_calls_active") == 0, timeout=5)
        assert "maximum call duration reached" in gw.log()
    finally:
        ras.close()
        rtp.stop()
