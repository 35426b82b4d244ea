"""A SIP phone calls an H.323 room through the neutral call model (a SIP
leg and an H.323 leg the gateway places): baresip 1001 dials 2001 while
the room is not registered and gets 480; room 2001 (the project's H.323
simulator, pycrate) registers with the port it listens on, the gateway
connects there with a Setup carrying Fast Start proposals; the room
answers CallProceeding, Alerting and Connect with its Fast Start answer;
each side hears the other's tone (measured on both sides); a UII digit of
the room reaches the gateway's SIP side; the phone hangs up and the room
gets ReleaseComplete with normal clearing; a second call is released by
the room and the phone sees it end. The CDR says answered, and tshark
dissects the gateway's Setup without malformed packets or expert errors."""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path

from harness.capture import start_capture
from harness.phones import Baresip, make_tone, tone_levels
from harness.procs import require_tool, run, wait_until
from harness.gateway import start_h323_gateway

sys.path.insert(0, str(Path(__file__).parent / "h323"))
import sim  # noqa: E402

ROOM = [("h323-ID", "room-2001"), ("dialledDigits", "2001")]


def pump(call: sim.IncomingCall, seconds: float):
    """Let the room read (and answer) the gateway's tunnelled H.245."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not call.closed:
        call.read_message(min(0.2, max(0.0, deadline - time.monotonic())))


def answer(listener: sim.Listener, rtp: sim.Rtp, gw, ras: sim.Ras | None = None,
           eid: str | None = None) -> tuple[sim.IncomingCall, tuple]:
    call = listener.accept(10)
    assert call, f"the gateway never connected to the room\n{gw.log()[-3000:]}"
    assert call.read_setup(10), f"no Setup: {[m['name'] for m in call.messages]}"
    if ras is not None:
        # as registered rooms do: admission to answer the offered call
        kind, acf = ras.arq(eid, "2001", call.call_id, call.conf_id, call.crv,
                            [("dialledDigits", "1001")], answer_call=True)
        assert kind == "admissionConfirm", (kind, acf)
    call.proceeding()
    call.alerting()
    fast_start, gw_rtp = call.fast_start_accept(rtp)
    assert fast_start, f"no PCMU proposals to accept: {call.proposals}"
    call.connect_answer(fast_start)
    return call, gw_rtp


def assert_setup_dissects(pcap: Path, room_port: int):
    out = run(["tshark", "-n", "-r", str(pcap), "-Y", f"tcp.dstport=={room_port} && q931",
               "-T", "fields", "-e", "q931.message_type", "-e", "h225.h323_message_body"],
              timeout=60)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    rows = [r.split("\t") for r in out.stdout.decode().splitlines() if r.strip()]
    assert any(r[0] == "0x05" for r in rows), f"no Setup from the gateway dissected: {rows}"
    assert all(len(r) > 1 and r[1] for r in rows), f"a message without an H.323-UU-PDU: {rows}"
    bad = run(["tshark", "-n", "-r", str(pcap), "-Y",
               f"tcp.dstport=={room_port} && (_ws.malformed || _ws.expert.severity >= warning)"],
              timeout=60)
    assert bad.returncode == 0, bad.stderr.decode(errors="replace")
    text = bad.stdout.decode().strip()
    assert not text, f"tshark finds malformed/expert errors in the gateway's H.225:\n{text}"


def test_sip_phone_calls_the_h323_room(gateway_factory, procs, tmp_path):
    require_tool("tshark")
    gw = start_h323_gateway(gateway_factory)
    listener = sim.Listener()
    pcap = tmp_path / "h225-to-room.pcap"
    cap = start_capture(procs, pcap, f"tcp port {listener.port}")
    phone_tone, room_tone = 600.0, 1400.0
    phone = Baresip(procs, tmp_path, "baresip-1001", "1001", "pass1001", gw.sip_uri_host,
                    make_tone(tmp_path / "phone.wav", int(phone_tone), 40), answer=False)
    phone.start(seconds=90)
    assert gw.wait_metric("gateway_registrations_active", lambda v: v >= 1, timeout=15) >= 1
    target = f"sip:2001@{gw.sip_uri_host}"

    ras = sim.Ras(("127.0.0.1", gw.ras_port))
    rtp = sim.Rtp()
    try:
        # the room is not registered: the phone hears 480
        phone.dial(target)
        assert phone.wait_log(r"480 2001 is not registered", timeout=10), phone.log()[-3000:]

        kind, rcf = ras.rrq(ROOM, cs_port=listener.port)
        assert kind == "registrationConfirm", (kind, rcf)
        time.sleep(1)
        phone.dial(target)
        call, gw_rtp = answer(listener, rtp, gw, ras, rcf["endpointIdentifier"])
        body = call.setup_body()
        assert ("h323-ID", "room-2001") in body["destinationAddress"], body
        assert body["sourceAddress"] == [("dialledDigits", "1001")], body
        assert gw_rtp[0] == "127.0.0.1", gw_rtp
        assert phone.wait_log(r"Call established", timeout=10), phone.log()[-3000:]
        rtp.start(gw_rtp, room_tone, seconds=10)
        pump(call, 3)
        # the gateway's capability exchange reached the room
        assert any(s == "terminalCapabilitySet" for _, (s, _) in call.h245_in), call.h245_in

        call.uii("7", signal=True)
        assert wait_until(lambda: "digit=7" in gw.log() and "DTMF relayed" in gw.log(),
                          timeout=5), gw.log()[-2000:]
        pump(call, 6)

        # the phone hangs up: the room gets ReleaseComplete, normal clearing
        phone.command("hangup")
        assert call.wait_closed(10), f"room not released: {[m['name'] for m in call.messages]}"
        rel = [m for m in call.messages if m["name"] == "releaseComplete"]
        assert rel and rel[0]["cause"] == 16, [(m["name"], m["cause"]) for m in call.messages]
        assert wait_until(lambda: gw.metric("gateway_calls_active") == 0, timeout=10)

        # a second call: the room releases, the phone's call ends
        ended_before = phone.log().count("terminated")
        established_before = phone.log().count("Call established")
        phone.dial(target)
        rtp2 = sim.Rtp()
        try:
            call2, _ = answer(listener, rtp2, gw)
            assert wait_until(lambda: phone.log().count("Call established") > established_before,
                              timeout=10), phone.log()[-2000:]
            pump(call2, 1)
            call2.release(16)
            assert wait_until(lambda: phone.log().count("terminated") > ended_before,
                              timeout=10), phone.log()[-2000:]
        finally:
            rtp2.stop()
    finally:
        rtp.stop()
        ras.close()
        listener.close()
    assert wait_until(lambda: gw.metric("gateway_calls_active") == 0, timeout=10)
    phone.proc.stop()
    cap.stop()

    room_wav = rtp.write_wav(tmp_path / "room-received.wav")
    levels = tone_levels(room_wav, [phone_tone, room_tone], start=2, seconds=5)
    print("room heard", {f: round(v, 1) for f, v in levels.items()})
    assert levels[phone_tone] > -30, f"the room does not hear the phone: {levels}"
    wavs = phone.dec_wavs()
    assert wavs, "the phone dumped no decoded audio"
    lv = tone_levels(wavs[0], [room_tone, phone_tone], start=2, seconds=5)
    print("phone heard", {f: round(v, 1) for f, v in lv.items()})
    assert lv[room_tone] > -30, f"the phone does not hear the room: {lv}"

    with sqlite3.connect(gw.data_dir / "gw.db") as c:
        rows = c.execute("SELECT outcome, caller, callee FROM cdrs ORDER BY rowid").fetchall()
    # the refusal before any leg was placed leaves no CDR, as for SIP callees
    assert rows == [("answered", "endpoint:1001", "2001")] * 2, rows

    assert_setup_dissects(pcap, listener.port)


def test_h323_room_reaches_an_h323_room_through_the_gateway(gateway_factory, procs, tmp_path):
    """H.323 to H.323 takes the same two legs: room 2001 (the sample
    dialplan's only H.323 endpoint) registers with its listening port and
    dials 2001; the gateway answers that call and places one to the
    listener. Tones cross both ways; the caller's release reaches the
    callee as ReleaseComplete with normal clearing."""
    gw = start_h323_gateway(gateway_factory)
    listener = sim.Listener()
    ras = sim.Ras(("127.0.0.1", gw.ras_port))
    caller_rtp, callee_rtp = sim.Rtp(), sim.Rtp()
    caller_tone, callee_tone = 700.0, 1300.0
    try:
        kind, rcf = ras.rrq(ROOM, cs_port=listener.port)
        assert kind == "registrationConfirm", (kind, rcf)
        out = sim.Call(("127.0.0.1", gw.cs_port))
        out.connect()
        out.setup("2001", ROOM, [sim.olc_fast_start(1, "127.0.0.1", caller_rtp.port, receive=False),
                                 sim.olc_fast_start(2, "127.0.0.1", caller_rtp.port, receive=True)],
                  endpoint_id=rcf["endpointIdentifier"])
        call, gw_rtp = answer(listener, callee_rtp, gw)
        assert out.wait_for("connect", 10), [m["name"] for m in out.messages]
        remote, codec = out.fast_start_answer()
        assert remote and codec == "g711Ulaw64k", (remote, codec)
        caller_rtp.start(remote, caller_tone, seconds=8)
        callee_rtp.start(gw_rtp, callee_tone, seconds=8)
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            out.read_message(0.1)
            call.read_message(0.1)
        out.release(16)
        assert call.wait_closed(10), [m["name"] for m in call.messages]
        rel = [m for m in call.messages if m["name"] == "releaseComplete"]
        assert rel and rel[0]["cause"] == 16, [(m["name"], m["cause"]) for m in call.messages]
    finally:
        caller_rtp.stop()
        callee_rtp.stop()
        ras.close()
        listener.close()
    assert wait_until(lambda: gw.metric("gateway_calls_active") == 0, timeout=10)
    for rtp, name, want, own in [(caller_rtp, "caller", callee_tone, caller_tone),
                                 (callee_rtp, "callee", caller_tone, callee_tone)]:
        lv = tone_levels(rtp.write_wav(tmp_path / f"{name}.wav"), [want, own], start=2, seconds=4)
        print(name, "heard", {f: round(v, 1) for f, v in lv.items()})
        assert lv[want] > -30, f"the {name} does not hear the other room: {lv}"
