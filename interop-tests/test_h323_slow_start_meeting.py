"""An H.323 room without Fast Start joins a meeting: room 2001 (the
project's H.323 simulator, pycrate) registers and dials meeting 8000 with a
Setup that has no fastStart; baresip 1001 dials the same meeting. The
gateway connects the room at once, opens its own audio channel over H.245
with the meeting's codec (acked by the room with where it receives) and
acks the room's channel with the meeting's address. The room hears the
phone's tone and the phone hears the room's (measured on both sides), and
neither hears itself. Once with H.245 tunnelled in the call signalling,
once on a connection of its own (the room names its h245Address)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from harness import ports
from harness.phones import Baresip, make_tone, tone_levels
from harness.procs import wait_until

sys.path.insert(0, str(Path(__file__).parent / "h323"))
import sim  # noqa: E402

ROOM = [("h323-ID", "room-2001"), ("dialledDigits", "2001")]
ROOM_LCN = 11
LOOPBACK = Path(__file__).resolve().parents[1] / "dialplans" / "loopback.toml"


def start_h323_gateway(gateway_factory):
    ras, cs = ports.port(), ports.port()
    gw = gateway_factory(dialplan=LOOPBACK, extra_args=[
        "--h323-listen", "127.0.0.1", "--h323-ras-port", str(ras), "--h323-cs-port", str(cs)])
    gw.ras_port, gw.cs_port = ras, cs
    gw.start()
    return gw


def slow_start_meeting(gateway_factory, procs, tmp_path, tunnelling: bool):
    gw = start_h323_gateway(gateway_factory)
    phone_tone, room_tone = 700.0, 1300.0
    phone = Baresip(procs, tmp_path, "baresip-1001", "1001", "pass1001", gw.sip_uri_host,
                    make_tone(tmp_path / "phone.wav", int(phone_tone), 30), answer=False)
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
        call.setup("8000", ROOM, None, endpoint_id=rcf["endpointIdentifier"],
                   h245_address=None if link is None else link.address)
        assert call.wait_for("callProceeding", 5), \
            f"no CallProceeding: {[m['name'] for m in call.messages]}\n{gw.log()[-3000:]}"
        # the room opens its channel as soon as it can; the gateway's
        # channel is acked with the room's RTP port from then on
        if link is None:
            call.open_audio(ROOM_LCN, rtp)
        else:
            assert link.accept(5), "the gateway did not connect to our h245Address"
            assert link.wait_for("terminalCapabilitySet", 5), link.pdus
            link.open_audio(ROOM_LCN, rtp)
        connect = call.wait_for("connect", 5)
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
        assert "the meeting offers its audio over H.245" in gw.log()
        rtp.start(remote, room_tone, seconds=12)

        reply = phone.dial(f"sip:8000@{gw.sip_uri_host}")
        assert reply.get("ok", True), reply
        assert phone.wait_log(r"Call established", timeout=15), phone.log()[-3000:]
        assert gw.wait_metric("gateway_calls_active", lambda v: v >= 2, timeout=5) == 2
        # keep reading so the connections' buffers never fill
        end = time.monotonic() + 10
        while time.monotonic() < end:
            call.read_message(0.1)
            if link is not None:
                link.read(0.1)

        call.release()
        assert call.wait_closed(5), "the gateway kept the connection after ReleaseComplete"
        assert wait_until(lambda: gw.metric("gateway_calls_active") == 1, timeout=5)
        phone.command("hangup")
    finally:
        rtp.stop()
        ras.close()
        if link is not None:
            link.close()
    assert wait_until(lambda: gw.metric("gateway_calls_active") == 0, timeout=10)
    phone.proc.stop()

    # the room's audio from the phone's answer on: seconds 4..9
    room_wav = rtp.write_wav(tmp_path / "room-received.wav")
    levels = tone_levels(room_wav, [phone_tone, room_tone], start=4, seconds=5)
    print("room heard", {f: round(v, 1) for f, v in levels.items()})
    assert levels[phone_tone] > -30, f"the room does not hear the phone: {levels}"
    assert levels[room_tone] < levels[phone_tone] - 20, f"the room hears itself: {levels}"
    wavs = phone.dec_wavs()
    assert wavs, "the phone dumped no decoded audio"
    lv = tone_levels(wavs[-1], [room_tone, phone_tone], start=2, seconds=5)
    print("phone heard", {f: round(v, 1) for f, v in lv.items()})
    assert lv[room_tone] > -30, f"the phone does not hear the room: {lv}"
    assert lv[phone_tone] < lv[room_tone] - 20, f"the phone hears itself: {lv}"
    assert "left meeting" in gw.log()


def test_slow_start_room_in_meeting_8000_tunnelled(gateway_factory, procs, tmp_path):
    slow_start_meeting(gateway_factory, procs, tmp_path, tunnelling=True)


def test_slow_start_room_in_meeting_8000_on_its_own_h245_connection(
        gateway_factory, procs, tmp_path):
    slow_start_meeting(gateway_factory, procs, tmp_path, tunnelling=False)
