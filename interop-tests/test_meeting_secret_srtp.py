"""Meeting 8001 of the loopback dialplan is secret: only encrypted legs
(SIP over TLS with SDES-SRTP) are admitted. Two baresip phones with
`mediaenc=srtp-mand` over TLS join and hear each other's tones through the
gateway, which decrypts each leg with its key and re-encrypts with its own;
a plain phone is refused with 488 and the reason."""

from harness import ports
from harness.phones import Baresip, make_tone, tone_levels
from harness.procs import wait_until

TONES = {"1001": 500.0, "1003": 1300.0}


def test_secret_meeting_admits_srtp_over_tls_and_refuses_plain(gateway_factory, procs, tmp_path):
    tls_port = ports.port()
    gw = gateway_factory(extra_args=["--tls-listen", f"127.0.0.1:{tls_port}"])
    gw.start()
    tls_registrar = f"127.0.0.1:{tls_port}"
    phones = {}
    for user, freq in TONES.items():
        wav = make_tone(tmp_path / f"{user}.wav", int(freq), 10, rate=8000)
        phones[user] = Baresip(procs, tmp_path, f"baresip-{user}", user, f"pass{user}", tls_registrar,
                               wav, codec="PCMU/8000/1", answer=False, transport="tls",
                               mediaenc="srtp-mand", extra_modules=("g711.so", "srtp.so"))
    plain_wav = make_tone(tmp_path / "1002.wav", 800, 10, rate=8000)
    plain = Baresip(procs, tmp_path, "baresip-1002", "1002", "pass1002", gw.sip_uri_host, plain_wav,
                    codec="PCMU/8000/1", answer=False)
    for p in [*phones.values(), plain]:
        p.start(seconds=60)
    regs = gw.wait_metric("gateway_registrations_active", lambda v: v >= 3, timeout=20)
    assert regs == 3, (f"gateway_registrations_active={regs}\n--- 1001 (TLS) ---\n"
                       f"{phones['1001'].log()[-2000:]}\n--- gateway ---\n{gw.log()[-2000:]}")

    assert plain.dial(f"sip:8001@{gw.sip_uri_host}").get("ok", True)
    assert plain.wait_log(r"488", timeout=10), f"plain phone not refused:\n{plain.log()[-3000:]}"
    assert "secret" in plain.log() or "only encrypted legs" in gw.log(), (
        f"the refusal does not say why:\n{plain.log()[-2000:]}")

    for p in phones.values():
        assert p.dial(f"sip:8001@{tls_registrar}").get("ok", True)
    for p in phones.values():
        assert p.wait_log(r"Call established", timeout=15), (
            f"{p.user} never joined meeting 8001:\n{p.log()[-3000:]}\n--- gateway ---\n{gw.log()[-3000:]}")
    assert "encrypted=true" in gw.log(), gw.log()[-3000:]
    for p in phones.values():
        assert p.wait_log(r"terminated", timeout=30), f"{p.user}:\n{p.log()[-3000:]}"
        p.proc.stop()
    assert wait_until(lambda: gw.metric("gateway_calls_active") == 0, timeout=10)

    for user, own in TONES.items():
        wavs = phones[user].dec_wavs()
        assert wavs, f"{user}: no decoded audio dumped"
        other = next(f for f in TONES.values() if f != own)
        levels = tone_levels(wavs[-1], [own, other], start=3, seconds=4)
        print(user, {f: round(v, 1) for f, v in levels.items()})
        assert levels[other] > -30 and levels[other] > levels[own] + 20, (
            f"{user} should hear {other} Hz through SRTP both ways: levels {levels}")
