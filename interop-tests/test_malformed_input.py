"""Hostile and broken input on UDP and TCP while real calls run.

Where a response is possible (the request is framed and has a usable Via) the
gateway must answer 400 naming what is wrong; otherwise it must drop the
message. Either way it stays up and the concurrent SIPp calls all succeed.
"""

from __future__ import annotations

import os
import socket
import time

from harness.sipua import new_branch, new_tag, parse

TIMEOUT = 2.0


def _request(gw_port: int, my_port: int, transport: str = "UDP", drop: str = "",
             replace: dict[str, str] | None = None, body: bytes = b"",
             content_length: str | None = None, start_line: str | None = None) -> bytes:
    headers = [
        ("Via", f"SIP/2.0/{transport} 127.0.0.1:{my_port};branch={new_branch()};rport"),
        ("Max-Forwards", "70"),
        ("From", f"<sip:probe@127.0.0.1>;tag={new_tag()}"),
        ("To", f"<sip:127.0.0.1:{gw_port}>"),
        ("Call-ID", f"{new_tag()}@127.0.0.1"),
        ("CSeq", "1 OPTIONS"),
    ]
    replace = replace or {}
    lines = [start_line or f"OPTIONS sip:127.0.0.1:{gw_port} SIP/2.0"]
    for k, v in headers:
        if k == drop:
            continue
        lines.append(f"{k}: {replace.get(k, v)}")
    lines.append(f"Content-Length: {content_length if content_length is not None else len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# (name, message builder, expected): expected is (400, "word the reason must
# contain") where a response is possible, or None where dropping is right.
def udp_cases(gw: int, me: int):
    nul = _request(gw, me).replace(b"<sip:probe@", b"<sip:pr\x00obe@")
    return [
        ("missing Call-ID", _request(gw, me, drop="Call-ID"), (400, "call-id")),
        ("missing CSeq", _request(gw, me, drop="CSeq"), (400, "cseq")),
        ("missing From", _request(gw, me, drop="From"), (400, "from")),
        ("missing To", _request(gw, me, drop="To"), (400, "to")),
        ("CSeq method mismatch", _request(gw, me, replace={"CSeq": "1 INVITE"}), (400, "cseq")),
        ("non-numeric CSeq", _request(gw, me, replace={"CSeq": "one OPTIONS"}), (400, "cseq")),
        ("non-numeric Content-Length", _request(gw, me, content_length="abc"), (400, "content-length")),
        ("Content-Length beyond datagram", _request(gw, me, body=b"v=0\r\n", content_length="4000"),
         (400, "content-length")),
        ("negative Content-Length", _request(gw, me, content_length="-5"), (400, "content-length")),
        ("bad Max-Forwards", _request(gw, me, replace={"Max-Forwards": "many"}), (400, "max-forwards")),
        ("NUL byte in From", nul, (400, "")),
        ("garbage", os.urandom(512), None),
        ("truncated start line", b"OPTIONS sip:127.0.0.1", None),
        ("truncated headers", _request(gw, me)[:90], None),
        ("only CRLFs", b"\r\n\r\n\r\n\r\n", None),
        ("oversized datagram (65000 bytes)",
         _request(gw, me, replace={"To": "<sip:" + "a" * 64000 + "@127.0.0.1>"}), None),
        ("binary after valid start line", b"OPTIONS sip:x SIP/2.0\r\n" + os.urandom(300), None),
    ]


def test_malformed_input(gateway, sipp):
    gw = gateway.sip_port
    # A long batch of real calls runs underneath everything below.
    uas = sipp.uas(timeout=120)
    uac, stat = sipp.uac(f"127.0.0.1:{gw}", calls=300, rate=30, pause_ms=2000, timeout=90)
    time.sleep(1.0)

    problems = []
    parse_errors_before = gateway.metric("gateway_sip_parse_errors_total")

    # ---------------------------------------------------------------- UDP
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    me = s.getsockname()[1]
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    for name, data, expected in udp_cases(gw, me):
        s.sendto(data, ("127.0.0.1", gw))
        s.settimeout(TIMEOUT if expected else 0.7)
        try:
            reply = parse(s.recv(65535))
        except socket.timeout:
            reply = None
        if expected is None:
            # Dropping is right; an answer must still be an error, never a 2xx.
            if reply is not None and (reply.status < 400 or not reply.is_response):
                problems.append(f"UDP {name}: answered {reply.start_line!r} to unusable input")
            continue
        status, word = expected
        if reply is None:
            problems.append(f"UDP {name}: no response (expected {status} naming '{word}')")
        elif reply.status != status or word not in reply.reason.lower():
            problems.append(f"UDP {name}: got {reply.start_line!r}, expected {status} "
                            f"with a reason naming '{word}'")
        elif reply.reason.strip().lower() == "bad request" and word:
            problems.append(f"UDP {name}: reason is only 'Bad Request'")
        assert gateway.healthz() == 200, f"gateway unhealthy after UDP {name}"
    s.close()

    # ---------------------------------------------------------------- TCP
    def tcp_exchange(data: bytes, wait: float = TIMEOUT) -> tuple[bytes, bool]:
        """Send, then collect what comes back; returns (bytes, closed_by_gateway)."""
        c = socket.create_connection(("127.0.0.1", gw), timeout=5)
        try:
            c.sendall(data)
        except OSError:
            c.close()
            return b"", True
        buf, closed = b"", False
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            c.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                chunk = c.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            buf += chunk
            if b"\r\n\r\n" in buf:
                break
        c.close()
        return buf, closed

    port_hint = 9  # Via port for TCP: responses go back on the connection

    buf, _ = tcp_exchange(_request(gw, port_hint, "TCP", drop="Call-ID"))
    r = parse(buf) if buf else None
    if r is None or r.status != 400 or "call-id" not in r.reason.lower():
        problems.append(f"TCP missing Call-ID: got {r.start_line if r else 'nothing'!r}, "
                        f"expected 400 naming Call-ID")

    buf, closed = tcp_exchange(_request(gw, port_hint, "TCP", content_length="abc"))
    r = parse(buf) if buf else None
    if not closed and (r is None or r.status != 400):
        problems.append(f"TCP bad Content-Length: neither 400 nor closed "
                        f"(got {r.start_line if r else 'nothing'!r})")

    # 70 KB with no end of headers: the gateway must stop buffering at its
    # limit and answer or close, not wait for more forever.
    big = (f"OPTIONS sip:127.0.0.1:{gw} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch="
           f"{new_branch()}\r\nX-Padding: " + "a" * 70_000).encode()
    buf, closed = tcp_exchange(big, wait=10)
    r = parse(buf) if buf else None
    if not closed and (r is None or r.status < 400):
        problems.append(f"TCP 70 KB header: gateway neither refused nor closed "
                        f"(got {r.start_line if r else 'nothing'!r})")

    buf, _ = tcp_exchange(os.urandom(2048), wait=1.0)
    if buf and parse(buf).is_response and parse(buf).status < 400:
        problems.append("TCP garbage: answered with a non-error")

    buf, _ = tcp_exchange(_request(gw, port_hint, "TCP").replace(b"probe@", b"pr\x00be@"))
    r = parse(buf) if buf else None
    if r is not None and r.status < 400:
        problems.append(f"TCP NUL byte: answered {r.start_line!r}")

    # A well-formed OPTIONS on a fresh connection is still served.
    buf, _ = tcp_exchange(_request(gw, port_hint, "TCP"))
    r = parse(buf) if buf else None
    if r is None or r.status != 200:
        problems.append(f"TCP valid OPTIONS after the abuse: got {r.start_line if r else 'nothing'!r}")

    # ---------------------------------------------------------- outcomes
    assert gateway.healthz() == 200, "gateway /healthz failed after malformed input"
    assert gateway.proc.alive(), "gateway process died"
    rc, stats = sipp.finish(uac, stat, timeout=120)
    assert stats.failed == 0 and stats.successful == 300 and rc == 0, (
        f"calls running during the abuse failed: {stats.successful}/300 ok, {stats.failures()}\n"
        f"{sipp.explain(uac)}")
    assert uas.alive()
    parse_errors = gateway.metric("gateway_sip_parse_errors_total") - parse_errors_before
    assert parse_errors >= 5, f"gateway_sip_parse_errors_total rose by only {parse_errors}"
    assert not problems, "malformed-input handling:\n  " + "\n  ".join(problems)
