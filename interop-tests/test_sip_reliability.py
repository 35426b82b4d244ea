"""UDP loses packets: the gateway's 2xx to an INVITE must survive that.

RFC 3261 13.3.1.4: the UAS core retransmits a 2xx to INVITE (T1, doubling up
to T2) until the ACK arrives, and if no ACK comes within 64*T1 it ends the
dialog with a BYE. Found by bench/sip-cps.sh: at 2000 CPS a burst of lost 200s
left 72 calls hanging forever in SIPp and in gateway_calls_active.
"""

import re
import time

from harness.sipua import UdpUA, new_tag, sdp_offer


def _invite(gateway, ua: UdpUA):
    ruri = f"sip:5000@{gateway.sip_uri_host}"
    data, cseq, branch = ua.request("INVITE", ruri, ruri, f"{new_tag()}@127.0.0.1", new_tag(),
                                    body=sdp_offer(ua.port + 2))
    ua.send(data)
    return ruri


def _oks(ua: UdpUA, seconds: float) -> list:
    got = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        m = ua.recv(max(deadline - time.monotonic(), 0.01))
        if m is not None and m.is_response and m.status == 200 and m.cseq_method == "INVITE":
            got.append(m)
    return got


def test_2xx_retransmitted_until_ack(gateway, sipp):
    sipp.uas()
    ua = UdpUA("probe", "", ("127.0.0.1", gateway.sip_port))
    try:
        _invite(gateway, ua)
        # No ACK: T1=500 ms means copies at ~0.5, 1.5 and 3.5 s.
        oks = _oks(ua, 5.0)
        assert len(oks) >= 3, (
            f"the gateway sent its 200 OK {len(oks)} time(s) in 5 s without an ACK; it must "
            f"retransmit it until ACKed (RFC 3261 13.3.1.4)")
        ok = oks[-1]
        contact = ok.header("contact") or ""
        mo = re.search(r"<([^>]+)>", contact)
        ack_ruri = mo.group(1) if mo else contact.split(";")[0].strip()
        assert ack_ruri, f"200 OK without Contact: {ok.raw!r}"
        ua.send(ua.request_in_dialog("ACK", ack_ruri, ok, cseq=1))
        time.sleep(1.0)
        ua.received.clear()
        assert len(_oks(ua, 3.0)) == 0, "the gateway kept retransmitting its 200 OK after the ACK"
        ua.send(ua.request_in_dialog("BYE", ack_ruri, ok, cseq=2))
        bye_ok = ua.recv(5, lambda m: m.is_response and m.cseq_method == "BYE")
        assert bye_ok is not None and bye_ok.status == 200, "BYE after the ACK not answered 200"
        active = gateway.wait_metric("gateway_calls_active", lambda v: v == 0, timeout=10)
        assert active == 0
    finally:
        ua.close()


def test_unacknowledged_2xx_ends_the_call(gateway, sipp):
    sipp.uas()
    ua = UdpUA("probe", "", ("127.0.0.1", gateway.sip_port))
    try:
        _invite(gateway, ua)
        # Never ACK. After 64*T1 = 32 s the gateway must give up and hang up.
        bye = ua.recv(45, lambda m: m.method == "BYE")
        assert bye is not None, (
            "no BYE within 45 s for a 200 OK that was never ACKed: the call leaks "
            "(RFC 3261 13.3.1.4 asks for a BYE after 64*T1)")
        ua.respond(bye, 200, "OK")
        active = gateway.wait_metric("gateway_calls_active", lambda v: v == 0, timeout=15)
        assert active == 0, f"gateway_calls_active={active} after the unacknowledged call ended"
    finally:
        ua.close()


def test_retransmitted_bye_gets_the_same_200(gateway, sipp):
    """A BYE whose 200 was lost is retransmitted (same branch); the server
    transaction (Timer J, 64*T1 on UDP) must answer it with 200 again, not 481.
    Seen at 3000 CPS in bench/sip-cps.sh: the gateway dropped some 200s to BYE
    (UDP send queue full), SIPp retransmitted, and got 481."""
    sipp.uas()
    ua = UdpUA("probe", "", ("127.0.0.1", gateway.sip_port))
    try:
        _invite(gateway, ua)
        ok = ua.final_response_any(10)
        assert ok is not None and ok.status == 200, f"call not answered: {ok and ok.start_line}"
        contact = ok.header("contact") or ""
        mo = re.search(r"<([^>]+)>", contact)
        target = mo.group(1) if mo else contact.split(";")[0].strip()
        ua.send(ua.request_in_dialog("ACK", target, ok, cseq=1))
        bye = ua.request_in_dialog("BYE", target, ok, cseq=2)
        ua.send(bye)
        first = ua.recv(5, lambda m: m.is_response and m.cseq_method == "BYE")
        assert first is not None and first.status == 200, f"BYE answered {first and first.start_line}"
        time.sleep(0.5)
        ua.send(bye)  # byte-identical retransmission: same Via branch
        again = ua.recv(5, lambda m: m.is_response and m.cseq_method == "BYE")
        assert again is not None, "retransmitted BYE got no response"
        assert again.status == 200, (
            f"retransmitted BYE answered {again.start_line!r}; the BYE server transaction "
            f"must resend its 200 (RFC 3261 17.2.2), not treat it as a new request")
    finally:
        ua.close()
