"""SIP over TLS with the self-signed identity the gateway makes when no
certificate is configured, and SHA-256 digest (RFC 8760) offered first:
OPTIONS gets 200, REGISTER is challenged with SHA-256 then MD5, and the
SHA-256 answer registers the endpoint."""

import socket
import ssl

from harness import ports
from harness.sipua import build, digest_authorization, new_branch, new_tag, parse, parse_challenge


def _exchange(s: ssl.SSLSocket, data: bytes):
    s.sendall(data)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        assert chunk, f"gateway closed the TLS connection without answering: {buf!r}"
        buf += chunk
    return parse(buf)


def test_register_over_tls_with_sha256(gateway_factory, tmp_path):
    tls_port = ports.port()
    config = tmp_path / "gateway.toml"
    config.write_text('digest_algorithms = ["SHA-256", "MD5"]\n')
    gw = gateway_factory(extra_args=["--config", str(config), "--tls-listen", f"127.0.0.1:{tls_port}"])
    gw.start()
    assert (gw.data_dir / "tls" / "self-signed-cert.pem").exists(), "no self-signed identity was made"

    ctx = ssl.create_default_context()
    # The identity is self-signed on purpose (no tls_cert configured).
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", tls_port), timeout=5),
                         server_hostname="localhost") as s:
        me = f"127.0.0.1:{s.getsockname()[1]}"
        server = f"127.0.0.1:{tls_port}"

        def request(method, cseq, call_id, extra=()):
            return build(f"{method} sip:{server};transport=tls SIP/2.0", [
                ("Via", f"SIP/2.0/TLS {me};branch={new_branch()};rport"),
                ("Max-Forwards", "70"),
                ("From", f"<sip:1001@{server}>;tag={new_tag()}"),
                ("To", f"<sip:1001@{server}>"),
                ("Call-ID", call_id), ("CSeq", f"{cseq} {method}"),
                ("Contact", f"<sip:1001@{me};transport=tls>"),
                *extra,
            ])

        resp = _exchange(s, request("OPTIONS", 1, f"{new_tag()}@x"))
        assert resp.status == 200, f"OPTIONS over TLS got {resp.start_line!r}"

        call_id = f"{new_tag()}@x"
        resp = _exchange(s, request("REGISTER", 1, call_id, [("Expires", "600")]))
        assert resp.status == 401, f"bare REGISTER over TLS got {resp.start_line!r}"
        challenges = [parse_challenge(v) for v in resp.header_all("www-authenticate")]
        assert [c.get("algorithm") for c in challenges] == ["SHA-256", "MD5"], challenges

        auth = digest_authorization(challenges[0], "REGISTER", f"sip:{server};transport=tls",
                                    "1001", "pass1001")
        resp = _exchange(s, request("REGISTER", 2, call_id,
                                    [("Expires", "600"), ("Authorization", auth)]))
        assert resp.status == 200, f"SHA-256 REGISTER over TLS got {resp.start_line!r}"
        assert gw.wait_metric("gateway_registrations_active", lambda v: v == 1, timeout=5) == 1
