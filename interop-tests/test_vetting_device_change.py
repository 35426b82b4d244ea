"""Security vetting on the SIP path: an approved endpoint adopts the first
device it registers with; a REGISTER presenting other firmware is refused
403 (with a Warning naming the state) and the endpoint lands in the review
queue; once a security reviewer approves it through the API, it registers."""

from __future__ import annotations

import time

from harness.sipua import UdpUA
from test_admin_api import api, login, users_add

POLYCOM = "Polycom/6.4.2.1234 PolycomRealPresenceGroup-500/6.4.2"
POLYCOM_NEW_FW = "Polycom/6.4.3.0077 PolycomRealPresenceGroup-500/6.4.3"


class DeviceUA(UdpUA):
    """A UdpUA that presents `device` as its User-Agent."""

    device = "interop-tests"

    def request(self, *args, **kwargs):
        data, cseq, branch = super().request(*args, **kwargs)
        return (data.replace(b"User-Agent: interop-tests", f"User-Agent: {self.device}".encode()),
                cseq, branch)


def register_as(gw, device: str):
    ua = DeviceUA("1001", "pass1001", ("127.0.0.1", gw.sip_port))
    ua.device = device
    try:
        resp = ua.register(expires=600)
    finally:
        ua.close()
    assert resp is not None, f"no answer to REGISTER with {device!r}"
    return resp


def wait_for(what: str, probe, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        ok, last = probe()
        if ok:
            return last
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout}s; last seen: {last}")


def test_changed_firmware_goes_back_to_review_until_approved(gateway_factory):
    gw = gateway_factory()
    for name, role, pw in [("operator-1", "operator", "operator password 1"),
                           ("reviewer-1", "security-reviewer", "reviewer password 1")]:
        rc, out, err = users_add(gw, name, role, pw)
        assert rc == 0, f"users add {name}: exit {rc}\n{out}\n{err}"
    gw.start()
    reviewer = login(gw, "reviewer-1", "reviewer password 1")
    operator = login(gw, "operator-1", "operator password 1")

    status, eps = api(gw, "GET", "/api/v1/endpoints", operator)
    assert status == 200 and any(e["id"] == "1001" for e in eps), (status, eps)

    # The loopback endpoints are vetted in the dialplan: approved, no device yet.
    resp = register_as(gw, POLYCOM)
    assert resp.status == 200, f"first device: {resp.start_line}"

    def device_recorded():
        status, ep = api(gw, "GET", "/api/v1/endpoints/1001", operator)
        dev = ep.get("device") if isinstance(ep, dict) else None
        return status == 200 and dev is not None, ep
    ep = wait_for("the first device recorded on 1001", device_recorded)
    assert ep["vetting"]["state"] == "approved", ep["vetting"]
    assert "6.4.2" in (ep["device"].get("firmware") or ""), ep["device"]

    resp = register_as(gw, POLYCOM_NEW_FW)
    assert resp.status == 403, f"new firmware accepted: {resp.start_line}"
    assert "pending security vetting" in resp.reason, resp.start_line
    warning = resp.header("warning") or ""
    assert warning.startswith("399 ") and '"Endpoint 1001 is pending security vetting"' in warning, (
        f"Warning header: {warning!r}")

    def queued():
        status, q = api(gw, "GET", "/api/v1/vetting", reviewer)
        return status == 200 and any(e["id"] == "1001" for e in q), q
    q = wait_for("1001 in the review queue", queued)
    entry = next(e for e in q if e["id"] == "1001")
    assert entry["vetting"]["state"] == "pending", entry["vetting"]
    assert "firmware" in str(entry.get("device_events")), entry.get("device_events")

    # Still refused while pending; an operator may not approve.
    assert register_as(gw, POLYCOM_NEW_FW).status == 403
    status, body = api(gw, "POST", "/api/v1/vetting/1001/approve", operator, {})
    assert status == 403, f"an operator approved: {status} {body}"
    assert register_as(gw, POLYCOM_NEW_FW).status == 403

    status, body = api(gw, "POST", "/api/v1/vetting/1001/approve", reviewer,
                       {"reason": "firmware 6.4.3 checked with the police"})
    assert status == 200, f"approve answered {status}: {body}"
    assert body["vetting"]["state"] == "approved", body

    resp = register_as(gw, POLYCOM_NEW_FW)
    assert resp.status == 200, f"approved again, still refused: {resp.start_line}"
    status, q = api(gw, "GET", "/api/v1/vetting", reviewer)
    assert status == 200 and not any(e["id"] == "1001" for e in q), q


def test_suspended_endpoint_cannot_register(gateway_factory):
    gw = gateway_factory()
    rc, out, err = users_add(gw, "reviewer-2", "security-reviewer", "reviewer password 2")
    assert rc == 0, (rc, out, err)
    gw.start()
    reviewer = login(gw, "reviewer-2", "reviewer password 2")
    assert register_as(gw, POLYCOM).status == 200
    status, body = api(gw, "POST", "/api/v1/vetting/1001/suspend", reviewer,
                       {"reason": "sent for repair"})
    assert status == 200, (status, body)
    resp = register_as(gw, POLYCOM)
    assert resp.status == 403, resp.start_line
    warning = resp.header("warning") or ""
    assert "Endpoint 1001 is suspended: sent for repair" in warning, warning
