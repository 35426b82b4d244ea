"""REGISTER is protected by digest: no credentials or a wrong password never
create a binding; the right password does."""

from harness.sipua import UdpUA, build, new_branch, new_tag, parse_challenge


def test_register_requires_digest(gateway):
    server = ("127.0.0.1", gateway.sip_port)
    ua = UdpUA("1001", "pass1001", server)
    try:
        # Bare REGISTER: must be challenged, not accepted.
        call_id = f"{new_tag()}@127.0.0.1"
        ua.send(build(f"REGISTER sip:{gateway.sip_uri_host} SIP/2.0", [
            ("Via", ua.via(new_branch())), ("Max-Forwards", "70"),
            ("From", f"<{ua.aor}>;tag={new_tag()}"), ("To", f"<{ua.aor}>"),
            ("Call-ID", call_id), ("CSeq", "1 REGISTER"), ("Contact", ua.contact),
            ("Expires", "600"),
        ]))
        resp = ua.final_response(call_id, 1, 5)
        assert resp is not None, "no answer to an unauthenticated REGISTER"
        assert resp.status == 401, f"unauthenticated REGISTER answered {resp.start_line!r}"
        chal = parse_challenge(resp.header("www-authenticate") or "")
        assert chal.get("nonce") and chal.get("realm"), f"challenge lacks realm/nonce: {chal}"

        wrong = UdpUA("1001", "not-the-password", server)
        try:
            resp = wrong.register(expires=600)
            assert resp is not None and resp.status in (401, 403), (
                f"REGISTER with a wrong password answered {resp and resp.start_line!r}")
        finally:
            wrong.close()
        assert gateway.metric("gateway_registrations_active") == 0, "a rejected REGISTER left a binding"

        resp = ua.register(expires=600)
        assert resp is not None and resp.status == 200, f"right password: {resp and resp.start_line!r}"
        assert gateway.wait_metric("gateway_registrations_active", lambda v: v == 1, timeout=5) == 1

        # Expires: 0 removes the binding again.
        resp = ua.register(expires=0)
        assert resp is not None and resp.status == 200, f"unREGISTER: {resp and resp.start_line!r}"
        assert gateway.wait_metric("gateway_registrations_active", lambda v: v == 0, timeout=5) == 0
    finally:
        ua.close()
