"""A second, independent SIP stack: linphonec registers as 1002 and answers a
call from baresip (1001) through the gateway."""

import time

from harness.phones import Baresip, Linphonec, assert_tone, make_tone, wav_stat


def test_linphone_call(gateway, procs, tmp_path):
    registrar = gateway.sip_uri_host
    tone_a = make_tone(tmp_path / "a440.wav", 440, 6)
    tone_l = make_tone(tmp_path / "l880.wav", 880, 30)
    recorded = tmp_path / "linphone-heard.wav"

    lp = Linphonec(procs, tmp_path)
    lp.start()
    time.sleep(1.0)
    lp.send("soundcard use files")
    lp.send(f"play {tone_l}")
    lp.send(f"record {recorded}")
    lp.send(f"register sip:1002@{registrar} sip:{registrar} pass1002")

    regs = gateway.wait_metric("gateway_registrations_active", lambda v: v >= 1, timeout=20)
    assert regs >= 1, f"linphonec did not register (registrations_active={regs}):\n{lp.log()[-3000:]}"

    a = Baresip(procs, tmp_path, "baresip-1001", "1001", "pass1001", registrar, tone_a,
                answer=False)
    a.start(seconds=60)
    regs = gateway.wait_metric("gateway_registrations_active", lambda v: v >= 2, timeout=15)
    assert regs == 2, f"registrations_active={regs} with linphonec and baresip registered"

    a.dial(f"sip:1002@{registrar}")
    assert a.wait_log(r"Call established", timeout=20), (
        f"baresip's call to linphonec was not established\n--- baresip ---\n{a.log()[-3000:]}\n"
        f"--- linphonec ---\n{lp.log()[-3000:]}")
    assert a.wait_log(r"terminated", timeout=25), f"call did not end:\n{a.log()[-3000:]}"
    time.sleep(1.0)
    lp.send("quit")
    lp.proc.wait(timeout=15)
    a.proc.stop()

    answered = gateway.wait_metric("gateway_calls_completed_total", lambda v: v >= 1,
                                   timeout=10, outcome="answered")
    assert answered >= 1, "gateway did not count the linphonec call as answered"

    assert recorded.exists(), f"linphonec recorded nothing to {recorded}:\n{lp.log()[-3000:]}"
    stats = wav_stat(recorded)
    assert stats.get("Length (seconds)", 0) >= 2, f"linphonec recorded too little audio: {stats}"
    assert_tone(recorded, 440, min_seconds=2)
    heard = a.dec_wavs()
    assert heard, "baresip dumped no received audio"
    assert_tone(heard[-1], 880, min_seconds=2)
