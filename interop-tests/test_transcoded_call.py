"""Two real phones (baresip) with no codec in common call each other
through the gateway: it offers the callee the codecs it can transcode to,
the callee picks one the caller did not offer, and each direction of the
audio is transcoded. The tone each phone sends must be heard by the other."""

import pytest

from harness.phones import Baresip, make_tone, tone_levels
from harness.procs import wait_until

# name: (baresip audio_codecs filter, wav rate, channels, module)
CODECS = {
    "pcmu": ("PCMU/8000/1", 8000, 1, "g711.so"),
    "g722": ("G722", 16000, 1, "g722.so"),
    "opus": ("opus/48000/2", 48000, 2, "opus.so"),
}


@pytest.mark.parametrize("caller,callee", [
    ("opus", "pcmu"), ("g722", "pcmu"), ("pcmu", "opus"),
])
def test_transcoded_call(gateway, procs, tmp_path, caller, callee):
    ca, rate_a, ch_a, mod_a = CODECS[caller]
    cb, rate_b, ch_b, mod_b = CODECS[callee]
    tone_a = make_tone(tmp_path / "a440.wav", 440, 6, rate=rate_a, channels=ch_a)
    tone_b = make_tone(tmp_path / "b880.wav", 880, 30, rate=rate_b, channels=ch_b)
    registrar = gateway.sip_uri_host
    a = Baresip(procs, tmp_path, "baresip-1001", "1001", "pass1001", registrar, tone_a,
                codec=ca, extra_modules=(mod_a,), answer=False)
    b = Baresip(procs, tmp_path, "baresip-1002", "1002", "pass1002", registrar, tone_b,
                codec=cb, extra_modules=(mod_b,), answer=True)
    b.start(seconds=60)
    a.start(seconds=60)
    regs = gateway.wait_metric("gateway_registrations_active", lambda v: v >= 2, timeout=15)
    assert regs == 2, f"gateway_registrations_active={regs}"

    reply = a.dial(f"sip:1002@{registrar}")
    assert reply.get("ok", True), f"baresip refused to dial: {reply}"
    assert b.wait_log(r"Call established", timeout=15), (
        f"1002 never established the call\n--- 1001 ---\n{a.log()[-3000:]}\n--- 1002 ---\n"
        f"{b.log()[-3000:]}\n--- gateway ---\n{gateway.log()[-3000:]}")
    assert a.wait_log(r"terminated", timeout=25), f"1001's call never ended:\n{a.log()[-3000:]}"
    assert b.wait_log(r"terminated", timeout=10), f"1002 never saw the BYE:\n{b.log()[-3000:]}"
    a.proc.stop()
    b.proc.stop()
    assert "audio transcoded" in gateway.log(), gateway.log()[-3000:]

    heard_by_b, heard_by_a = b.dec_wavs(), a.dec_wavs()
    assert heard_by_b and heard_by_a, f"no decoded audio dumped: B {heard_by_b}, A {heard_by_a}"
    # sox's "rough frequency" misreads 48 kHz stereo: measure the two tones.
    for who, wav, want, other in (("1002", heard_by_b[-1], 440.0, 880.0),
                                  ("1001", heard_by_a[-1], 880.0, 440.0)):
        levels = tone_levels(wav, [want, other], start=1, seconds=3)
        assert levels[want] > -20 and levels[want] > levels[other] + 30, (
            f"{who} should hear {want} Hz through the transcoder: levels {levels} in {wav}")
    assert wait_until(lambda: gateway.metric("gateway_calls_completed_total",
                                             outcome="answered") >= 1, timeout=10)
