"""The administration API on the running gateway: users made with
`gateway users add` (password on stdin) log in at POST /api/v1/session and
see the dialplan's endpoints, adopted into the registry at start."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from harness.gateway import gateway_bin
from harness.procs import run


def users_add(gw, name: str, role: str, password: str, unit: str | None = None):
    argv = [str(gateway_bin()), "users", "add", name, "--role", role,
            "--db", gw.db_url, "--data-dir", str(gw.data_dir)]
    if unit:
        argv += ["--unit", unit]
    out = run(argv, timeout=60, cwd=gw.data_dir, input_bytes=(password + "\n").encode())
    return out.returncode, out.stdout.decode(errors="replace"), out.stderr.decode(errors="replace")


def api(gw, method: str, path: str, token: str | None = None, body=None):
    """(status, parsed JSON or text) of one API request."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{gw.admin_port}{path}", data=data,
                                 method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, raw.decode(errors="replace")


def login(gw, user: str, password: str) -> str:
    status, body = api(gw, "POST", "/api/v1/session", body={"user": user, "password": password})
    assert status in (200, 201), f"login of {user} answered {status}: {body}"
    assert isinstance(body, dict) and body.get("token"), f"no token in {body}"
    return body["token"]


def test_cli_user_logs_in_and_lists_the_adopted_endpoints(gateway_factory):
    gw = gateway_factory()
    rc, out, err = users_add(gw, "hanoi-admin", "city-admin", "Mật-khẩu dài 2025")
    assert rc == 0, f"users add exit {rc}\nstdout: {out}\nstderr: {err}"
    assert "hanoi-admin" in out and "city-admin" in out, f"users add did not say what it did: {out}"

    # Clear refusals, non-zero exit, nothing created.
    rc, out, err = users_add(gw, "x", "boss", "pw-pw-pw-pw")
    assert rc != 0 and "boss" in err and "security-reviewer" in err, (rc, out, err)
    rc, out, err = users_add(gw, "y", "unit-admin", "pw-pw-pw-pw", unit="99999")
    assert rc != 0 and "99999" in err, (rc, out, err)
    rc, out, err = users_add(gw, "hanoi-admin", "auditor", "another-password")
    assert rc != 0 and "exists" in err, (rc, out, err)

    gw.start()
    status, _ = api(gw, "POST", "/api/v1/session",
                    body={"user": "hanoi-admin", "password": "wrong"})
    assert status == 401, f"a wrong password answered {status}"
    status, _ = api(gw, "POST", "/api/v1/session", body={"user": "y", "password": "pw-pw-pw-pw"})
    assert status == 401, "a refused `users add` created the user anyway"

    token = login(gw, "hanoi-admin", "Mật-khẩu dài 2025")
    status, eps = api(gw, "GET", "/api/v1/endpoints", token)
    assert status == 200, f"GET /api/v1/endpoints answered {status}: {eps}"
    by_id = {e["id"]: e for e in eps}
    assert {"1001", "1002", "1003"} <= set(by_id), f"dialplan endpoints not adopted: {sorted(by_id)}"
    assert by_id["1001"]["vetting"]["state"] == "approved", by_id["1001"]
    assert by_id["1001"]["unit"] in ("2025/01", {"structure": "2025", "code": "01"}) or \
        "01" in json.dumps(by_id["1001"]["unit"]), by_id["1001"]["unit"]

    status, _ = api(gw, "GET", "/api/v1/endpoints")
    assert status == 401, f"the endpoint list without a token answered {status}"
    # /metrics and /healthz still answer next to the API.
    assert gw.http_get("/healthz")[0] == 200
    assert gw.metrics().has("gateway_registrations_active")
