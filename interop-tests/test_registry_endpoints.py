"""Endpoints administered through the API reach the running gateway's call
path without a SIGHUP: an endpoint created with POST /api/v1/endpoints
registers with digest (against the registry's HA1) and is called by number;
a new number takes over from the old one; a deleted endpoint is refused. A
dialplan version applied through the API changes what the engine routes,
checked with real SIP requests (POST /api/v1/route answers from the
administration's own copy)."""

from __future__ import annotations

import secrets
import threading
import time

from harness import ports
from harness.gateway import LOOPBACK_DIALPLAN
from harness.sipua import UdpUA, new_tag, sdp_offer
from test_admin_api import api, login, users_add

ADMIN = ("registry-admin", "city-admin", "registry admin password")
REVIEWER = ("registry-reviewer", "security-reviewer", "registry reviewer password")
ROOM = "room-1010"
ROOM_PASSWORD = "r00m-1010-secret"


def start(gateway_factory):
    gw = gateway_factory()
    for name, role, pw in (ADMIN, REVIEWER):
        rc, out, err = users_add(gw, name, role, pw)
        assert rc == 0, f"users add {name}: exit {rc}\n{out}\n{err}"
    gw.start()
    return gw, login(gw, ADMIN[0], ADMIN[2]), login(gw, REVIEWER[0], REVIEWER[2])


def wait_for(what: str, probe, timeout: float = 10.0):
    """Polls `probe` (-> (done, last)) until done: a registry change reaches
    the engine after its commit, off the engine's loop."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        done, last = probe()
        if done:
            return last
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout}s; last seen: {last}")


def register(gw, user: str, password: str, ua: UdpUA | None = None):
    """(status or None, ua): a digest REGISTER of `user`."""
    ua = ua or UdpUA(user, password, ("127.0.0.1", gw.sip_port))
    resp = ua.register(expires=600)
    return (resp.status if resp is not None else None), ua


# SIPp as the room: a REGISTER answering the gateway's digest challenge,
# then (a second run on the same port, where the binding points) one INVITE
# answered 486. SIPp ties messages to a call by Call-ID, so the INVITE of a
# new call needs a run of its own. It presents the User-Agent our own UA
# does: another device would send the approved room back to review.
REGISTER_XML = """<?xml version="1.0" encoding="UTF-8" ?>
<scenario name="register with digest">
  <send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:USER@[remote_ip]:[remote_port]>;tag=[pid]reg[call_number]
To: <sip:USER@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:USER@[local_ip]:[local_port]>
Expires: 600
Max-Forwards: 70
User-Agent: interop-tests
Content-Length: 0

]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:USER@[remote_ip]:[remote_port]>;tag=[pid]reg[call_number]
To: <sip:USER@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 2 REGISTER
Contact: <sip:USER@[local_ip]:[local_port]>
Expires: 600
Max-Forwards: 70
User-Agent: interop-tests
[authentication username=USER password=PASSWORD]
Content-Length: 0

]]></send>
  <recv response="200"/>
</scenario>
"""

BUSY_XML = """<?xml version="1.0" encoding="UTF-8" ?>
<scenario name="answer one INVITE busy">
  <recv request="INVITE"/>
  <send><![CDATA[
SIP/2.0 486 Busy Here
[last_Via:]
[last_From:]
[last_To:];tag=[pid]busy[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <recv request="ACK"/>
</scenario>
"""


def sipp_run(procs, workdir, name: str, xml: str, port: int, gw, timeout: int):
    """Starts SIPp with scenario `xml` on `port`; returns the process."""
    workdir.mkdir(parents=True, exist_ok=True)
    scenario = workdir / f"{name}.xml"
    scenario.write_text(xml)
    argv = ["sipp", "-sf", str(scenario), f"127.0.0.1:{gw.sip_port}", "-i", "127.0.0.1",
            "-p", str(port), "-m", "1", "-nostdin", "-timeout", str(timeout),
            "-timeout_error", "-trace_err", "-error_file", str(workdir / f"{name}.errors.log")]
    return procs.start(name, argv, cwd=workdir)


def call(gw, caller: UdpUA, number: str, callee: UdpUA, wait: float = 3.0):
    """1001 calls `number`: the INVITE `callee` received (answered 486 so the
    call ends at once), or None, and the caller's final status. The caller
    runs on a thread: it blocks on its final response while the callee
    answers."""
    call_id = secrets.token_hex(8) + "@127.0.0.1"
    ruri = f"sip:{number}@{caller.server_hostport}"
    final = {}

    def place():
        final["resp"] = caller.send_with_auth("INVITE", ruri, ruri, body=sdp_offer(41000),
                                              call_id=call_id, timeout=wait)

    t = threading.Thread(target=place)
    t.start()
    inv = callee.recv(wait, lambda m: not m.is_response and m.method == "INVITE")
    if inv is not None:
        callee.respond(inv, 486, "Busy Here", to_tag=new_tag())
    t.join(wait + 6)
    resp = final.get("resp")
    if resp is not None and resp.status >= 200:
        # ACK the failure so the gateway stops retransmitting it.
        caller.send(caller.ack_for(resp, ruri, caller.last_branch))
    return inv, (resp.status if resp is not None else None)


def test_an_endpoint_created_through_the_api_registers_and_is_called(gateway_factory, procs,
                                                                    tmp_path):
    gw, admin, reviewer = start(gateway_factory)
    caller = UdpUA("1001", "pass1001", ("127.0.0.1", gw.sip_port))
    room = UdpUA(ROOM, ROOM_PASSWORD, ("127.0.0.1", gw.sip_port))
    try:
        assert register(gw, "1001", "pass1001", caller)[0] == 200

        # Not there yet: unknown to the registrar.
        assert register(gw, ROOM, ROOM_PASSWORD, room)[0] == 404

        status, ep = api(gw, "POST", "/api/v1/endpoints", admin, {
            "id": ROOM,
            "unit": {"structure": "2025", "code": "01"},
            "protocol": "sip",
            "display": "Phòng họp 1010",
            "numbers": ["1010"],
            "credentials": {"password": ROOM_PASSWORD},
        })
        assert status == 201, f"POST /api/v1/endpoints answered {status}: {ep}"
        assert ep["vetting"]["state"] == "pending", ep["vetting"]
        assert "password" not in str(ep["credentials"]).lower() or ROOM_PASSWORD not in str(ep)

        # Known now (no SIGHUP), but refused until a reviewer approves it.
        def known_and_pending():
            st, _ = register(gw, ROOM, ROOM_PASSWORD, room)
            return st == 403, st
        wait_for("the new endpoint known to the running gateway", known_and_pending)

        status, body = api(gw, "POST", f"/api/v1/vetting/{ROOM}/approve", reviewer,
                           {"reason": "room checked"})
        assert status == 200, f"approve answered {status}: {body}"

        def registered():
            st, _ = register(gw, ROOM, ROOM_PASSWORD, room)
            return st == 200, st
        wait_for("the approved endpoint registering with digest", registered)
        wrong = UdpUA(ROOM, "not-the-password", ("127.0.0.1", gw.sip_port))
        try:
            assert register(gw, ROOM, "not-the-password", wrong)[0] in (401, 403)
        finally:
            wrong.close()

        # SIPp, a SIP client of its own, registers with digest and gets the
        # INVITE 1001 places to 1010.
        sipp_port = ports.port()
        xml = REGISTER_XML.replace("USER", ROOM).replace("PASSWORD", ROOM_PASSWORD)
        reg = sipp_run(procs, tmp_path / "sipp", "sipp-register", xml, sipp_port, gw, 20)
        assert reg.wait(30) == 0, "SIPp's digest REGISTER of the API-created endpoint failed"
        uas = sipp_run(procs, tmp_path / "sipp", "sipp-busy", BUSY_XML, sipp_port, gw, 30)
        time.sleep(0.5)  # listening; the gateway retransmits the INVITE anyway
        ruri = f"sip:1010@{caller.server_hostport}"
        resp = caller.send_with_auth("INVITE", ruri, ruri, body=sdp_offer(41050), timeout=10)
        assert resp is not None and resp.status == 486, (
            f"1010 should reach SIPp and its 486 come back, got {resp and resp.start_line}")
        caller.send(caller.ack_for(resp, ruri, caller.last_branch))
        assert uas.wait(30) == 0, "SIPp (the room) did not get the INVITE for 1010"

        # The room moves to another device (our UA): the binding follows.
        assert register(gw, ROOM, ROOM_PASSWORD, room)[0] == 200
        inv, final = call(gw, caller, "1010", room)
        assert inv is not None, f"no INVITE for 1010 reached the room (caller got {final})"
        assert ROOM in inv.request_uri, inv.request_uri
        assert final == 486, f"the caller should see the room's 486, got {final}"

        # A new number: 1011 reaches the room, 1010 no longer does.
        status, ep = api(gw, "PATCH", f"/api/v1/endpoints/{ROOM}", admin, {"numbers": ["1011"]})
        assert status == 200 and ep["numbers"] == ["1011"], (status, ep)

        def new_number_routed():
            inv, final = call(gw, caller, "1011", room)
            return inv is not None, final
        wait_for("1011 routed to the room", new_number_routed, timeout=20)
        inv, final = call(gw, caller, "1010", room, wait=2.0)
        assert inv is None, f"1010 still reached the room: {inv.request_uri}"

        # Deleted: refused, and not called.
        status, _ = api(gw, "DELETE", f"/api/v1/endpoints/{ROOM}", admin)
        assert status in (200, 204), status

        def refused():
            st, _ = register(gw, ROOM, ROOM_PASSWORD, room)
            return st in (403, 404), st
        wait_for("the deleted endpoint refused", refused)
        inv, final = call(gw, caller, "1011", room, wait=2.0)
        assert inv is None, "a deleted endpoint was still called"
        assert "routing dialplan built from the admin registry" in gw.log()
    finally:
        caller.close()
        room.close()


def test_a_version_applied_through_the_api_changes_what_the_engine_routes(gateway_factory):
    gw, admin, _ = start(gateway_factory)
    caller = UdpUA("1001", "pass1001", ("127.0.0.1", gw.sip_port))
    try:
        assert register(gw, "1001", "pass1001", caller)[0] == 200
        ruri = f"sip:7777@{caller.server_hostport}"
        # Before: 7777 goes out to the loopback trunk (nobody answers there).
        resp = caller.send_with_auth("INVITE", ruri, ruri, body=sdp_offer(41100), timeout=3)
        before = resp.status if resp is not None else None
        if resp is not None:
            caller.send(caller.ack_for(resp, ruri, caller.last_branch))
        assert before != 403, f"7777 was refused before the new version: {before}"

        text = LOOPBACK_DIALPLAN.read_text()
        # Ahead of the catch-all rule: a rule matches in file order.
        rule = ('[[rule]]\nname = "closed-7777"\nmatch = { exact = "7777" }\n'
                'action = "reject"\nstatus = 403\nreason = "Closed by version"\n\n')
        text = text.replace("[[rule]]", rule + "[[rule]]", 1)
        status, body = api(gw, "POST", "/api/v1/versions", admin,
                           {"source": text, "file_name": "api-version.toml"})
        assert status in (200, 201), f"upload answered {status}: {body}"

        def closed():
            resp = caller.send_with_auth("INVITE", ruri, ruri, body=sdp_offer(41102), timeout=3)
            if resp is not None:
                caller.send(caller.ack_for(resp, ruri, caller.last_branch))
            st = resp.status if resp is not None else None
            return st == 403 and "Closed by version" in (resp.reason or ""), st
        wait_for("the API-applied rule in force on the SIP path", closed, timeout=20)
    finally:
        caller.close()
