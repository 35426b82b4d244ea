"""Load through the gateway: SIPp uac -> gateway -> SIPp uas (the trunk)."""

import pytest


def _run_batch(gateway, sipp, transport: str, calls: int, rate: int):
    uas = sipp.uas()
    uac, stat = sipp.uac(f"127.0.0.1:{gateway.sip_port}", calls=calls, rate=rate,
                         transport=transport, service="5000", pause_ms=0, timeout=120)
    rc, stats = sipp.finish(uac, stat, timeout=150)
    assert uas.alive(), f"SIPp uas died:\n{sipp.explain(uas)}"
    assert stats.failed == 0 and stats.successful == calls and rc == 0, (
        f"SIPp over {transport}: {stats.successful}/{calls} successful, {stats.failed} failed "
        f"({stats.failures()}), exit {rc}\n{sipp.explain(uac)}")
    return stats


@pytest.mark.parametrize("transport,calls,rate", [("u1", 2000, 200), ("t1", 500, 100)],
                         ids=["udp", "tcp"])
def test_sipp_calls(gateway, sipp, transport, calls, rate):
    _run_batch(gateway, sipp, transport, calls, rate)
    answered = gateway.wait_metric("gateway_calls_completed_total", lambda v: v >= calls,
                                   timeout=15, outcome="answered")
    assert answered >= calls, f"gateway counted {answered} answered calls, SIPp completed {calls}"
    attempts = gateway.metric("gateway_call_attempts_total")
    assert attempts >= calls, f"gateway counted {attempts} call attempts for {calls} calls"
    failed = sum(gateway.metric("gateway_calls_completed_total", outcome=o)
                 for o in ("failed", "rejected"))
    assert failed == 0, f"gateway counted {failed} failed/rejected calls in a clean run"
    # Every call has ended and every transaction timed out or completed.
    active = gateway.wait_metric("gateway_calls_active", lambda v: v == 0, timeout=15)
    assert active == 0, f"{active} calls still active after SIPp finished"
