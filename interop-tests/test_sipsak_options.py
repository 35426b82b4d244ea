from harness.procs import run


def test_sipsak_options_gets_200(gateway):
    out = run(["sipsak", "-vv", "-s", f"sip:{gateway.sip_uri_host}", "-H", "127.0.0.1"],
              timeout=30)
    text = (out.stdout + out.stderr).decode(errors="replace")
    assert out.returncode == 0, f"sipsak exit {out.returncode}:\n{text}"
    assert "200" in text, f"sipsak saw no 200 reply:\n{text}"


def test_options_over_tcp_gets_200(gateway):
    import socket
    from harness.sipua import build, new_branch, new_tag, parse

    with socket.create_connection(("127.0.0.1", gateway.sip_port), timeout=5) as s:
        port = s.getsockname()[1]
        s.sendall(build(f"OPTIONS sip:{gateway.sip_uri_host} SIP/2.0", [
            ("Via", f"SIP/2.0/TCP 127.0.0.1:{port};branch={new_branch()}"),
            ("Max-Forwards", "70"),
            ("From", f"<sip:probe@127.0.0.1>;tag={new_tag()}"),
            ("To", f"<sip:{gateway.sip_uri_host}>"),
            ("Call-ID", f"{new_tag()}@127.0.0.1"),
            ("CSeq", "1 OPTIONS"),
        ]))
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            assert chunk, f"gateway closed the TCP connection without answering OPTIONS: {data!r}"
            data += chunk
    resp = parse(data)
    assert resp.status == 200, f"OPTIONS over TCP got {resp.start_line!r}"
