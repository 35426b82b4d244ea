"""Two real phones (baresip) register with digest and call each other through
the gateway; the tone each sends must be heard by the other."""

import pytest

from harness.phones import Baresip, assert_tone, make_tone
from harness.procs import wait_until

CODECS = {
    # name: (baresip audio_codecs filter, wav rate, extra modules)
    "pcmu": ("PCMU/8000/1", 8000, ("g711.so",)),
    "g722": ("G722", 16000, ("g722.so",)),
}


@pytest.mark.parametrize("codec", ["pcmu", "g722"])
def test_baresip_call_tone(gateway, procs, tmp_path, codec):
    """The call goes through the protocol-neutral owner (two SIP legs and a
    bridge, the path H.323 and WebRTC legs take)."""
    codec_filter, rate, modules = CODECS[codec]
    # A's file ends the call (baresip hangs up at end of file); B's runs longer.
    tone_a = make_tone(tmp_path / "a440.wav", 440, 6, rate=rate)
    tone_b = make_tone(tmp_path / "b880.wav", 880, 30, rate=rate)
    registrar = gateway.sip_uri_host
    a = Baresip(procs, tmp_path, "baresip-1001", "1001", "pass1001", registrar, tone_a,
                codec=codec_filter, extra_modules=modules, answer=False)
    b = Baresip(procs, tmp_path, "baresip-1002", "1002", "pass1002", registrar, tone_b,
                codec=codec_filter, extra_modules=modules, answer=True)
    b.start(seconds=60)
    a.start(seconds=60)

    regs = gateway.wait_metric("gateway_registrations_active", lambda v: v >= 2, timeout=15)
    assert regs == 2, (f"gateway_registrations_active={regs}, expected 2 after both phones "
                       f"registered\n--- 1001 ---\n{a.log()[-2000:]}\n--- 1002 ---\n{b.log()[-2000:]}")
    assert "200 OK" in a.log() or "registered" in a.log().lower(), a.log()[-2000:]

    reply = a.dial(f"sip:1002@{registrar}")
    assert reply.get("ok", True), f"baresip refused to dial: {reply}"

    assert b.wait_log(r"Call established", timeout=15), (
        f"1002 never established the call\n--- 1001 ---\n{a.log()[-3000:]}\n--- 1002 ---\n{b.log()[-3000:]}")
    # The call lasts as long as A's 6 s file; wait for both ends to hang up.
    assert a.wait_log(r"terminated", timeout=25), f"1001's call never ended:\n{a.log()[-3000:]}"
    assert b.wait_log(r"terminated", timeout=10), f"1002 never saw the BYE:\n{b.log()[-3000:]}"

    # Stop the phones so sndfile closes (finalizes) the wav headers.
    a.proc.stop()
    b.proc.stop()

    heard_by_b = b.dec_wavs()
    heard_by_a = a.dec_wavs()
    assert heard_by_b and heard_by_a, f"no decoded audio dumped: B {heard_by_b}, A {heard_by_a}"
    assert_tone(heard_by_b[-1], 440, min_seconds=3)
    assert_tone(heard_by_a[-1], 880, min_seconds=3)

    m = gateway.metrics()
    relayed = m.get("gateway_rtp_packets_relayed_total")
    # 6 s of 20 ms frames each way is ~600 packets; half of it proves the relay.
    assert relayed >= 300, f"gateway relayed only {relayed} RTP packets for a 6 s two-way call"
    answered = wait_until(lambda: gateway.metric("gateway_calls_completed_total",
                                                 outcome="answered") >= 1, timeout=10)
    assert answered, "gateway did not count the call as answered"

    # Call quality: the CDR carries each leg's E-model MOS and loss (the
    # phones are on loopback: no loss, MOS near the codec's ceiling), and
    # /metrics has the MOS histogram.
    import sqlite3
    import time
    db = gateway.data_dir / "gw.db"
    row = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and row is None:
        with sqlite3.connect(db) as c:
            row = c.execute("SELECT mos_a, mos_b, loss_pct_a, loss_pct_b, jitter_ms_a FROM cdrs "
                            "WHERE outcome = 'answered'").fetchone()
        time.sleep(0.2)
    assert row is not None, "no CDR for the answered call"
    mos_a, mos_b, loss_a, loss_b, jitter_a = row
    assert mos_a is not None and mos_b is not None, f"CDR quality columns empty: {row}"
    assert 3.8 <= mos_a <= 4.6 and 3.8 <= mos_b <= 4.6, f"MOS on loopback: {row}"
    assert loss_a is not None and loss_a < 2.0 and loss_b < 2.0, f"loss on loopback: {row}"
    assert jitter_a is not None and jitter_a >= 0
    assert "bridged call answered" in gateway.log(), "the call did not take the neutral path"
    assert gateway.metrics().get("gateway_call_mos_count") >= 2
