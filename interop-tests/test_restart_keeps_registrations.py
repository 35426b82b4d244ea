"""Registrations live in the store: a gateway restarted on the same database
still routes to a contact that registered before the restart."""

import threading

from harness.sipua import UdpUA, new_tag, sdp_offer


def test_restart_keeps_registrations(gateway_factory, tmp_path):
    gw = gateway_factory(data_dir=tmp_path / "gwdata")
    gw.start()
    server = ("127.0.0.1", gw.sip_port)

    callee = UdpUA("1001", "pass1001", server)
    caller = UdpUA("1002", "pass1002", server)
    try:
        resp = callee.register(expires=3600)
        assert resp is not None, "no final response to REGISTER of 1001"
        assert resp.status == 200, f"REGISTER 1001 answered {resp.start_line!r}:\n{resp.raw!r}"
        contacts = " ".join(resp.header_all("contact"))
        assert f"127.0.0.1:{callee.port}" in contacts, (
            f"200 OK to REGISTER does not list the binding: Contact {contacts!r}")
        regs = gw.wait_metric("gateway_registrations_active", lambda v: v >= 1, timeout=5)
        assert regs == 1, f"registrations_active={regs} after one REGISTER"

        rc = gw.stop()
        assert rc is not None
        gw.start()  # same ports, same --db, same --data-dir

        # Restored from the store, not re-registered: the gauge counts it.
        regs = gw.wait_metric("gateway_registrations_active", lambda v: v >= 1, timeout=10)

        # 1002 calls 1001 with digest; the INVITE must reach 1001's old contact.
        invite_resp = {}

        def place_call():
            invite_resp["final"] = caller.send_with_auth(
                "INVITE", f"sip:1001@{gw.sip_uri_host}", f"sip:1001@{gw.sip_uri_host}",
                body=sdp_offer(caller.port + 2), timeout=15)

        t = threading.Thread(target=place_call, daemon=True)
        t.start()
        invite = callee.recv(15, lambda m: m.method == "INVITE")
        assert invite is not None, (
            f"the INVITE from 1002 never reached 1001's contact 127.0.0.1:{callee.port} "
            f"registered before the restart; caller saw: "
            f"{[m.start_line for m in caller.received]}")
        assert f"127.0.0.1:{callee.port}" in invite.request_uri, (
            f"INVITE arrived with Request-URI {invite.request_uri}, expected the registered contact")
        # Decline: 486 is enough to prove routing and ends the call cleanly.
        callee.respond(invite, 486, "Busy Here", to_tag=new_tag())
        ack = callee.recv(5, lambda m: m.method == "ACK")
        assert ack is not None, "gateway did not ACK the 486 from 1001"
        t.join(20)
        final = invite_resp.get("final")
        assert final is not None, f"caller got no final response: {[m.start_line for m in caller.received]}"
        assert final.status == 486, (
            f"1001 answered 486 but the caller's INVITE ended with {final.start_line!r}")
        caller.send(caller.ack_for(final, f"sip:1001@{gw.sip_uri_host}", caller.last_branch))
        assert regs == 1, f"registrations_active={regs} after restart (expected the stored binding)"
    finally:
        callee.close()
        caller.close()
