"""An H.323 room calls a SIP phone with slow start (its Setup has no
fastStart): room 2001 (the project's H.323 simulator, pycrate) registers
and dials 1001; baresip 1001 rings and answers. The gateway answers the room
with Connect and opens its own audio channel over H.245 (OpenLogicalChannel,
acked by the room with where it receives); the room's channel, opened while
the call rang, is acked with the gateway's media address. Each side hears
the other's tone (measured on both sides). Once with H.245 tunnelled in the
call signalling, once on a connection of its own (the room names its
h245Address, the gateway connects)."""

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
ROOM_LCN = 11


def slow_start_call(gateway_factory, procs, tmp_path, tunnelling: bool):
    gw = start_h323_gateway(gateway_factory)
    phone_tone, room_tone = 700.0, 1300.0
    phone = Baresip(procs, tmp_path, "baresip-1001", "1001", "pass1001", gw.sip_uri_host,
                    make_tone(tmp_path / "phone.wav", int(phone_tone), 30), answer=True)
    phone.start(seconds=60)
    assert gw.wait_metric("gateway_registrations_active", lambda v: v >= 1, timeout=15) >= 1

    ras = sim.Ras(("127.0.0.1", gw.ras_port))
    rtp = sim.Rtp()
    link = None if tunnelling else sim.H245Link.listen()
    try:
        kind, rcf = ras.rrq(ROOM, cs_port=1720)
        assert kind == "registrationConfirm", (kind, rcf)
        call = sim.Call(("127.0.0.1", gw.cs_port), tunnelling=tunnelling)
        call.connect()
        call.setup("1001", ROOM, None, endpoint_id=rcf["endpointIdentifier"],
                   h245_address=None if link is None else link.address)
        assert call.wait_for("callProceeding", 5), \
            f"no CallProceeding: {[m['name'] for m in call.messages]}\n{gw.log()[-3000:]}"
        # the room opens its channel while the call rings, as rooms do
        # once capabilities are exchanged
        if link is None:
            call.open_audio(ROOM_LCN, rtp)
        else:
            assert link.accept(5), "the gateway did not connect to our h245Address"
            assert link.wait_for("terminalCapabilitySet", 5), link.pdus
            link.open_audio(ROOM_LCN, rtp)
            # H.245 runs on the link; the call-signalling connection is
            # read in the same loop
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not any(
                    m["name"] == "connect" for m in call.messages):
                call.read_message(0.05)
                link.read(0.05)
        connect = call.wait_for("connect", 15) if link is None else next(
            (m for m in call.messages if m["name"] == "connect"), None)
        assert connect, f"no Connect: {[m['name'] for m in call.messages]}\n{gw.log()[-3000:]}"
        assert not connect["uu"]["h323-uu-pdu"]["h323-message-body"][1].get("fastStart")
        side = call if link is None else link
        remote = side.wait_acked(ROOM_LCN, 10)
        assert remote, f"the room's channel was not acked: {side.slow.__dict__}\n{gw.log()[-3000:]}"
        deadline = time.monotonic() + 10
        while not side.slow.gw_channels and time.monotonic() < deadline:
            call.read_message(0.05)
            if link is not None:
                link.read(0.05)
        assert side.slow.gw_channels, f"the gateway opened no channel\n{gw.log()[-3000:]}"
        assert side.slow.gw_channels[0][1] == "g711Ulaw64k", side.slow.gw_channels
        assert phone.wait_log(r"Call established", timeout=10), phone.log()[-3000:]
        assert "bridged call answered (our offer to the caller)" in gw.log()
        rtp.start(remote, room_tone, seconds=10)
        # keep reading so the connections' buffers never fill
        end = time.monotonic() + 10
        while time.monotonic() < end:
            call.read_message(0.1)
            if link is not None:
                link.read(0.1)

        phone.command("hangup")
        assert call.wait_closed(10), f"room not released: {[m['name'] for m in call.messages]}"
        rel = [m for m in call.messages if m["name"] == "releaseComplete"]
        assert rel and rel[0]["cause"] == 16, [m["name"] for m in call.messages]
    finally:
        rtp.stop()
        ras.close()
        if link is not None:
            link.close()
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


def test_slow_start_room_calls_a_sip_phone_tunnelled(gateway_factory, procs, tmp_path):
    slow_start_call(gateway_factory, procs, tmp_path, tunnelling=True)


def test_slow_start_room_calls_a_sip_phone_on_its_own_h245_connection(
        gateway_factory, procs, tmp_path):
    slow_start_call(gateway_factory, procs, tmp_path, tunnelling=False)
