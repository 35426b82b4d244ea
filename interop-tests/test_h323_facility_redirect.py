"""A call the gateway places to an H.323 room is forwarded by the room
(Facility callForwarded with an alternativeAddress): baresip 1001 dials
room 2001 (the project's H.323 simulator, pycrate); the room answers the
gateway's Setup with the Facility naming a second call-signalling port;
the gateway releases the first connection (ReleaseComplete) and places the
same call (same callIdentifier, new call reference) there; that port
answers with Fast Start and the phone's call is established with audio
reaching the room. A second forward from there is not followed: the call
ends (Q.850 25 to the room) and the phone sees it fail."""

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


def pump(call: sim.IncomingCall, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not call.closed:
        call.read_message(min(0.2, max(0.0, deadline - time.monotonic())))


def test_a_forwarded_call_reaches_the_second_address_once(gateway_factory, procs, tmp_path):
    gw = start_h323_gateway(gateway_factory)
    first, second = sim.Listener(), sim.Listener()
    phone_tone = 600.0
    phone = Baresip(procs, tmp_path, "baresip-1001", "1001", "pass1001", gw.sip_uri_host,
                    make_tone(tmp_path / "phone.wav", int(phone_tone), 40), answer=False)
    phone.start(seconds=90)
    assert gw.wait_metric("gateway_registrations_active", lambda v: v >= 1, timeout=15) >= 1
    target = f"sip:2001@{gw.sip_uri_host}"
    ras = sim.Ras(("127.0.0.1", gw.ras_port))
    rtp = sim.Rtp()
    try:
        kind, rcf = ras.rrq(ROOM, cs_port=first.port)
        assert kind == "registrationConfirm", (kind, rcf)
        phone.dial(target)

        call1 = first.accept(10)
        assert call1 and call1.read_setup(10), gw.log()[-3000:]
        call1.forward(("127.0.0.1", second.port))
        assert call1.wait_closed(10), [m["name"] for m in call1.messages]
        rel = [m for m in call1.messages if m["name"] == "releaseComplete"]
        assert rel and call1.release_reason(rel[0]) == "facilityCallDeflection", rel

        call2 = second.accept(10)
        assert call2, f"no connection to the forwarded-to address\n{gw.log()[-3000:]}"
        assert call2.read_setup(10)
        assert call2.call_id == call1.call_id, "the same call"
        assert call2.crv != call1.crv
        call2.proceeding()
        fast_start, gw_rtp = call2.fast_start_accept(rtp)
        assert fast_start, call2.proposals
        call2.connect_answer(fast_start)
        assert phone.wait_log(r"Call established", timeout=10), phone.log()[-3000:]
        assert "redirected by the callee" in gw.log()
        rtp.start(gw_rtp, 1400.0, seconds=8)
        pump(call2, 8)
        phone.command("hangup")
        assert call2.wait_closed(10)

        # forwarded twice: the second is refused, the phone's call fails
        phone.dial(target)
        call3 = first.accept(10)
        assert call3 and call3.read_setup(10)
        call3.forward(("127.0.0.1", second.port))
        call4 = second.accept(10)
        assert call4 and call4.read_setup(10)
        call4.forward(("127.0.0.1", first.port))
        assert call4.wait_closed(10)
        rel = [m for m in call4.messages if m["name"] == "releaseComplete"]
        assert rel and rel[0]["cause"] == 25, rel
        assert first.accept(2) is None, "a second redirect is not followed"
        assert wait_until(lambda: gw.metric("gateway_calls_active") == 0, timeout=10), \
            gw.log()[-3000:]
        assert "one redirect at most" in gw.log(), gw.log()[-3000:]
    finally:
        rtp.stop()
        ras.close()
        first.close()
        second.close()
    phone.proc.stop()

    room_wav = rtp.write_wav(tmp_path / "room-received.wav")
    levels = tone_levels(room_wav, [phone_tone, 1400.0], start=2, seconds=4)
    print("room heard", {f: round(v, 1) for f, v in levels.items()})
    assert levels[phone_tone] > -30, f"the room does not hear the phone: {levels}"
