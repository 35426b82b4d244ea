from harness.gateway import METRIC_NAMES


def test_healthz_and_metric_names(gateway):
    status, body = gateway.http_get("/healthz")
    assert status == 200, f"/healthz answered {status}: {body[:300]}"

    status, body = gateway.http_get("/metrics")
    assert status == 200, f"/metrics answered {status}: {body[:300]}"
    metrics = gateway.metrics()
    missing = [n for n in METRIC_NAMES if not metrics.has(n)]
    assert not missing, f"/metrics lacks {missing}; it exported:\n{body[:3000]}"
    # A fresh gateway has nothing in flight.
    assert metrics.get("gateway_calls_active") == 0
    assert metrics.get("gateway_registrations_active") == 0
    assert "outcome" in body or metrics.get("gateway_calls_completed_total") == 0

