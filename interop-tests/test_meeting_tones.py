"""Three real phones (baresip) dial meeting 8000 of the loopback dialplan,
each sending its own tone: each must hear the other two and not itself
(mix-minus), measured on the audio each phone decoded. With mixed codecs
(PCMU, G.722, Opus) every leg is decoded, mixed at 16 kHz and re-encoded in
its own codec."""

import pytest

from harness.phones import Baresip, make_tone, tone_levels
from harness.procs import wait_until

TONES = {"1001": 500.0, "1002": 800.0, "1003": 1300.0}
# baresip codec filter, wav rate, channels, module
CODECS = {
    "pcmu": ("PCMU/8000/1", 8000, 1, "g711.so"),
    "g722": ("G722", 16000, 1, "g722.so"),
    "opus": ("opus/48000/2", 48000, 2, "opus.so"),
}
LINEUPS = {
    "all-pcmu": {"1001": "pcmu", "1002": "pcmu", "1003": "pcmu"},
    "pcmu-g722-opus": {"1001": "pcmu", "1002": "g722", "1003": "opus"},
}


@pytest.mark.parametrize("lineup", list(LINEUPS))
def test_three_phones_hear_each_other_in_meeting_8000(gateway, procs, tmp_path, lineup):
    registrar = gateway.sip_uri_host
    phones = {}
    for user, freq in TONES.items():
        codec, rate, channels, module = CODECS[LINEUPS[lineup][user]]
        wav = make_tone(tmp_path / f"{user}.wav", int(freq), 12, rate=rate, channels=channels)
        phones[user] = Baresip(procs, tmp_path, f"baresip-{user}", user, f"pass{user}", registrar,
                               wav, codec=codec, extra_modules=(module,), answer=False)
    for p in phones.values():
        p.start(seconds=60)
    regs = gateway.wait_metric("gateway_registrations_active", lambda v: v >= 3, timeout=15)
    assert regs == 3, f"gateway_registrations_active={regs}, expected 3"

    for p in phones.values():
        reply = p.dial(f"sip:8000@{registrar}")
        assert reply.get("ok", True), f"baresip {p.user} refused to dial: {reply}"
    for p in phones.values():
        assert p.wait_log(r"Call established", timeout=15), (
            f"{p.user} never joined meeting 8000:\n{p.log()[-3000:]}\n--- gateway ---\n"
            f"{gateway.log()[-3000:]}")
    joined = gateway.wait_metric("gateway_calls_active", lambda v: v >= 3, timeout=5)
    assert joined == 3, f"gateway_calls_active={joined} with three phones in the meeting"

    # Each file lasts 12 s; the phones hang up at its end.
    for p in phones.values():
        assert p.wait_log(r"terminated", timeout=30), f"{p.user}'s call never ended:\n{p.log()[-3000:]}"
        p.proc.stop()
    assert wait_until(lambda: gateway.metric("gateway_calls_active") == 0, timeout=10), (
        "meeting legs still counted active after every phone hung up")

    for user, own in TONES.items():
        wavs = phones[user].dec_wavs()
        assert wavs, f"{user}: no decoded audio dumped"
        # Seconds 4..9: all three phones are in the meeting and sending.
        levels = tone_levels(wavs[-1], list(TONES.values()), start=4, seconds=5)
        print(user, LINEUPS[lineup][user], {f: round(v, 1) for f, v in levels.items()})
        others = [f for f in TONES.values() if f != own]
        for f in others:
            assert levels[f] > -30, f"{user} does not hear {f} Hz: levels {levels}"
        assert levels[own] < min(levels[f] for f in others) - 20, (
            f"{user} hears its own {own} Hz tone back: levels {levels}")
