"""An H.323 room calls a SIP phone through the neutral call model (an H.323
leg and a SIP leg on one bridge): room 2001 (the project's H.323 simulator,
pycrate) registers, dials 1001 with Fast Start; baresip 1001 rings and
answers; the room gets Alerting and Connect with the gateway's media
address; each side hears the other's tone (measured on both sides); a UII
digit reaches the phone as SIP INFO; the phone hangs up and the room gets
ReleaseComplete with normal clearing. A busy phone reaches the room as an
H.225 release with Q.850 17."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from harness.phones import Baresip, make_tone, tone_levels
from harness.procs import wait_until
from harness.gateway import start_h323_gateway

sys.path.insert(0, str(Path(__file__).parent / "h323"))
import sim  # noqa: E402

ROOM = [("h323-ID", "room-2001"), ("dialledDigits", "2001")]


def dial(gw, eid: str, dest: str, rtp: sim.Rtp) -> sim.Call:
    call = sim.Call(("127.0.0.1", gw.cs_port))
    call.connect()
    fast_start = [sim.olc_fast_start(1, "127.0.0.1", rtp.port, receive=False),
                  sim.olc_fast_start(2, "127.0.0.1", rtp.port, receive=True)]
    call.setup(dest, ROOM, fast_start, endpoint_id=eid)
    return call


def test_h323_room_calls_a_sip_phone(gateway_factory, procs, tmp_path):
    gw = start_h323_gateway(gateway_factory)
    phone_tone, room_tone = 600.0, 1400.0
    phone = Baresip(procs, tmp_path, "baresip-1001", "1001", "pass1001", gw.sip_uri_host,
                    make_tone(tmp_path / "phone.wav", int(phone_tone), 30), answer=True)
    phone.start(seconds=60)
    assert gw.wait_metric("gateway_registrations_active", lambda v: v >= 1, timeout=15) >= 1

    ras = sim.Ras(("127.0.0.1", gw.ras_port))
    rtp = sim.Rtp()
    try:
        kind, rcf = ras.rrq(ROOM, cs_port=1720)
        assert kind == "registrationConfirm", (kind, rcf)
        eid = rcf["endpointIdentifier"]
        call = dial(gw, eid, "1001", rtp)
        connect = call.wait_for("connect", 15)
        assert connect, f"no Connect: {[m['name'] for m in call.messages]}\n{gw.log()[-3000:]}"
        remote, codec = call.fast_start_answer()
        assert remote and codec == "g711Ulaw64k", (remote, codec)
        assert phone.wait_log(r"Call established", timeout=10), phone.log()[-3000:]
        assert "bridged call answered" in gw.log()
        rtp.start(remote, room_tone, seconds=10)

        time.sleep(3)
        call.uii("7", signal=True)
        assert wait_until(lambda: "digit=7" in gw.log() and "DTMF relayed" in gw.log(),
                          timeout=5), gw.log()[-2000:]
        time.sleep(6)

        # the phone hangs up: the room's call is released, normal clearing
        phone.command("hangup")
        assert call.wait_closed(10), f"room not released: {[m['name'] for m in call.messages]}"
        rel = [m for m in call.messages if m["name"] == "releaseComplete"]
        assert rel, [m["name"] for m in call.messages]
        assert rel[0]["cause"] == 16, rel[0]
    finally:
        rtp.stop()
        ras.close()
    assert wait_until(lambda: gw.metric("gateway_calls_active") == 0, timeout=10)
    phone.proc.stop()

    room_wav = rtp.write_wav(tmp_path / "room-received.wav")
    levels = tone_levels(room_wav, [phone_tone, room_tone], start=2, seconds=5)
    print("room heard", {f: round(v, 1) for f, v in levels.items()})
    assert levels[phone_tone] > -30, f"the room does not hear the phone: {levels}"
    wavs = phone.dec_wavs()
    assert wavs, "the phone dumped no decoded audio"
    lv = tone_levels(wavs[-1], [room_tone, phone_tone], start=2, seconds=5)
    print("phone heard", {f: round(v, 1) for f, v in lv.items()})
    assert lv[room_tone] > -30, f"the phone does not hear the room: {lv}"

    import sqlite3
    with sqlite3.connect(gw.data_dir / "gw.db") as c:
        row = c.execute("SELECT outcome, caller, callee FROM cdrs").fetchone()
    assert row is not None and row[0] == "answered", row
    assert row[1] == "endpoint:2001", row
