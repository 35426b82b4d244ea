"""SRTP terminated per leg in a two-leg call: a baresip phone that insists
on SDES-SRTP (`srtp-mand`) calls a plain-RTP baresip phone and the other way
round, and two SRTP phones call each other keyed separately by the gateway.
The tone each phone sends must be heard by the other."""

import pytest

from harness.phones import Baresip, make_tone, tone_levels

MODES = {"srtp": ("srtp-mand", ("g711.so", "srtp.so")), "plain": (None, ("g711.so",))}


# A callee that insists on SRTP refuses the plain offer with 488 and is
# offered RTP/SAVP once more (plain -> srtp).
@pytest.mark.parametrize("caller,callee", [
    ("srtp", "plain"), ("plain", "srtp"), ("srtp", "srtp"),
])
def test_srtp_call(gateway, procs, tmp_path, caller, callee):
    registrar = gateway.sip_uri_host
    enc_a, mods_a = MODES[caller]
    enc_b, mods_b = MODES[callee]
    a = Baresip(procs, tmp_path, "baresip-1001", "1001", "pass1001", registrar,
                make_tone(tmp_path / "a.wav", 440, 6), answer=False, mediaenc=enc_a,
                extra_modules=mods_a)
    b = Baresip(procs, tmp_path, "baresip-1002", "1002", "pass1002", registrar,
                make_tone(tmp_path / "b.wav", 880, 30), answer=True, mediaenc=enc_b,
                extra_modules=mods_b)
    b.start(seconds=60)
    a.start(seconds=60)
    assert gateway.wait_metric("gateway_registrations_active", lambda v: v >= 2, timeout=15) == 2
    assert a.dial(f"sip:1002@{registrar}").get("ok", True)
    assert b.wait_log(r"Call established", timeout=15), (
        f"--- 1001 ---\n{a.log()[-3000:]}\n--- 1002 ---\n{b.log()[-3000:]}\n--- gateway ---\n"
        f"{gateway.log()[-3000:]}")
    assert a.wait_log(r"terminated", timeout=25), a.log()[-3000:]
    assert b.wait_log(r"terminated", timeout=10), b.log()[-3000:]
    a.proc.stop()
    b.proc.stop()
    for phone, mode in ((a, caller), (b, callee)):
        if mode == "srtp":
            assert "SRTP is Enabled" in phone.log(), f"{phone.user} did not use SRTP:\n{phone.log()[-2000:]}"
    for who, phone, want, other in (("1002", b, 440.0, 880.0), ("1001", a, 880.0, 440.0)):
        wavs = phone.dec_wavs()
        assert wavs, f"{who}: no decoded audio"
        levels = tone_levels(wavs[-1], [want, other], start=1, seconds=3)
        assert levels[want] > -20 and levels[want] > levels[other] + 30, (
            f"{who} should hear {want} Hz ({caller}→{callee}): levels {levels}\n"
            f"--- gateway ---\n{gateway.log()[-2000:]}")
