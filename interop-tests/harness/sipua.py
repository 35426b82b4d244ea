"""A deliberately small SIP user agent over UDP/TCP sockets, with digest auth.

It is written from RFC 3261 / RFC 2617 / RFC 8760 directly so the tests do not
depend on the gateway's own SIP code to talk to the gateway.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import socket
import time
from dataclasses import dataclass, field


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def new_tag() -> str:
    return secrets.token_hex(6)


@dataclass
class SipMessage:
    start_line: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    raw: bytes = b""

    @property
    def is_response(self) -> bool:
        return self.start_line.startswith("SIP/2.0 ")

    @property
    def status(self) -> int:
        return int(self.start_line.split(" ", 2)[1]) if self.is_response else 0

    @property
    def reason(self) -> str:
        parts = self.start_line.split(" ", 2)
        return parts[2] if self.is_response and len(parts) > 2 else ""

    @property
    def method(self) -> str:
        return "" if self.is_response else self.start_line.split(" ", 1)[0]

    @property
    def request_uri(self) -> str:
        return "" if self.is_response else self.start_line.split(" ")[1]

    _COMPACT = {"i": "call-id", "f": "from", "t": "to", "v": "via", "m": "contact",
                "l": "content-length", "c": "content-type"}

    def header(self, name: str) -> str | None:
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        name = name.lower()
        out = []
        for k, v in self.headers:
            k = k.lower()
            k = self._COMPACT.get(k, k)
            if k == name:
                out.append(v)
        return out

    @property
    def cseq_method(self) -> str:
        cseq = self.header("cseq") or ""
        return cseq.split()[-1] if cseq.split() else ""


def parse(data: bytes) -> SipMessage:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("utf-8", errors="replace").split("\r\n")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            k, v = headers[-1]
            headers[-1] = (k, v + " " + line.strip())
            continue
        if ":" in line:
            k, v = line.split(":", 1)
            headers.append((k.strip(), v.strip()))
    return SipMessage(start_line=lines[0], headers=headers, body=body, raw=data)


def build(start_line: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    out = [start_line]
    out += [f"{k}: {v}" for k, v in headers if k.lower() != "content-length"]
    out.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(out) + "\r\n\r\n").encode() + body


def parse_challenge(value: str) -> dict[str, str]:
    scheme, _, rest = value.strip().partition(" ")
    assert scheme.lower() == "digest", f"not a digest challenge: {value}"
    params = {}
    for mo in re.finditer(r'([a-zA-Z0-9_-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^,\s]+)', rest):
        params[mo.group(1).lower()] = mo.group(3) if mo.group(3) is not None else mo.group(2)
    return params


def digest_authorization(challenge: dict[str, str], method: str, uri: str,
                         username: str, password: str) -> str:
    algorithm = challenge.get("algorithm", "MD5")
    algo = algorithm.upper().removesuffix("-SESS")
    hfun = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}.get(algo)
    assert hfun is not None, f"unsupported digest algorithm {algorithm}"

    def h(s: str) -> str:
        return hfun(s.encode()).hexdigest()

    realm = challenge.get("realm", "")
    nonce = challenge["nonce"]
    cnonce = secrets.token_hex(8)
    nc = "00000001"
    ha1 = h(f"{username}:{realm}:{password}")
    if algorithm.upper().endswith("-SESS"):
        ha1 = h(f"{ha1}:{nonce}:{cnonce}")
    ha2 = h(f"{method}:{uri}")
    qops = [q.strip() for q in challenge.get("qop", "").split(",") if q.strip()]
    parts = [f'username="{username}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"']
    if "auth" in qops:
        response = h(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        parts += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
    else:
        response = h(f"{ha1}:{nonce}:{ha2}")
    parts += [f'response="{response}"', f"algorithm={algorithm}"]
    if "opaque" in challenge:
        parts.append(f'opaque="{challenge["opaque"]}"')
    return "Digest " + ", ".join(parts)


def sdp_offer(port: int, payload: int = 0, name: str = "PCMU/8000") -> bytes:
    sess = str(int(time.time()))
    return (
        "v=0\r\n"
        f"o=pytest {sess} {sess} IN IP4 127.0.0.1\r\n"
        "s=interop\r\n"
        "c=IN IP4 127.0.0.1\r\n"
        "t=0 0\r\n"
        f"m=audio {port} RTP/AVP {payload}\r\n"
        f"a=rtpmap:{payload} {name}\r\n"
        "a=sendrecv\r\n"
    ).encode()


@dataclass
class UdpUA:
    """One SIP UA on a UDP socket bound to 127.0.0.1."""

    user: str
    password: str
    server: tuple[str, int]
    port: int = 0
    sock: socket.socket = field(init=False)
    received: list[SipMessage] = field(default_factory=list)

    def __post_init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", self.port))
        self.port = self.sock.getsockname()[1]
        self.cseq = 0

    def close(self):
        self.sock.close()

    @property
    def server_hostport(self) -> str:
        return f"{self.server[0]}:{self.server[1]}"

    @property
    def aor(self) -> str:
        return f"sip:{self.user}@{self.server_hostport}"

    @property
    def contact(self) -> str:
        return f"<sip:{self.user}@127.0.0.1:{self.port}>"

    def via(self, branch: str) -> str:
        return f"SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch};rport"

    def send(self, data: bytes, to: tuple[str, int] | None = None) -> None:
        self.sock.sendto(data, to or self.server)

    def recv(self, timeout: float, accept=lambda m: True) -> SipMessage | None:
        """Next message matching `accept` within `timeout` (others are kept)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                data, src = self.sock.recvfrom(65535)
            except (socket.timeout, BlockingIOError):
                return None
            msg = parse(data)
            msg.source = src  # type: ignore[attr-defined]
            self.received.append(msg)
            if accept(msg):
                return msg

    def final_response(self, call_id: str, cseq: int, timeout: float) -> SipMessage | None:
        """Wait for the final response of (call_id, cseq); provisionals are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            msg = self.recv(max(remaining, 0), lambda m: m.is_response
                            and m.header("call-id") == call_id
                            and (m.header("cseq") or "").split()[0] == str(cseq))
            if msg is None or msg.status >= 200:
                return msg

    def final_response_any(self, timeout: float) -> SipMessage | None:
        """The next final response to an INVITE, whatever its Call-ID."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self.recv(max(deadline - time.monotonic(), 0),
                            lambda m: m.is_response and m.cseq_method == "INVITE")
            if msg is None or msg.status >= 200:
                return msg

    def request(self, method: str, ruri: str, to_uri: str, call_id: str, from_tag: str,
                extra: list[tuple[str, str]] = (), body: bytes = b"",
                branch: str | None = None) -> tuple[bytes, int, str]:
        self.cseq += 1
        branch = branch or new_branch()
        headers = [
            ("Via", self.via(branch)),
            ("Max-Forwards", "70"),
            ("From", f"<{self.aor}>;tag={from_tag}"),
            ("To", f"<{to_uri}>"),
            ("Call-ID", call_id),
            ("CSeq", f"{self.cseq} {method}"),
            ("Contact", self.contact),
            ("User-Agent", "interop-tests"),
            *extra,
        ]
        if body:
            headers.append(("Content-Type", "application/sdp"))
        return build(f"{method} {ruri} SIP/2.0", headers, body), self.cseq, branch

    def request_in_dialog(self, method: str, ruri: str, resp: SipMessage, cseq: int) -> bytes:
        """ACK/BYE inside the dialog a 2xx `resp` created (we are the UAC)."""
        routes = []
        for value in resp.header_all("record-route"):
            routes += [r.strip() for r in value.split(",") if r.strip()]
        headers = [
            ("Via", self.via(new_branch())),
            ("Max-Forwards", "70"),
            ("From", resp.header("from") or ""),
            ("To", resp.header("to") or ""),
            ("Call-ID", resp.header("call-id") or ""),
            ("CSeq", f"{cseq} {method}"),
        ]
        headers += [("Route", r) for r in reversed(routes)]
        return build(f"{method} {ruri} SIP/2.0", headers)

    def ack_for(self, resp: SipMessage, ruri: str, branch: str) -> bytes:
        """ACK for a non-2xx final response (same branch, RFC 3261 17.1.1.3)."""
        cseq_num = (resp.header("cseq") or "1").split()[0]
        return build(f"ACK {ruri} SIP/2.0", [
            ("Via", self.via(branch)),
            ("Max-Forwards", "70"),
            ("From", resp.header("from") or ""),
            ("To", resp.header("to") or ""),
            ("Call-ID", resp.header("call-id") or ""),
            ("CSeq", f"{cseq_num} ACK"),
        ])

    def send_with_auth(self, method: str, ruri: str, to_uri: str, extra=(), body=b"",
                       call_id: str | None = None, timeout: float = 5.0,
                       on_provisional=None) -> SipMessage | None:
        """Send a request, answer one 401/407 challenge, return the final response."""
        call_id = call_id or secrets.token_hex(10) + "@127.0.0.1"
        from_tag = new_tag()
        data, cseq, branch = self.request(method, ruri, to_uri, call_id, from_tag, extra, body)
        self.send(data)
        self.last_branch = branch
        resp = self.final_response(call_id, cseq, timeout)
        if resp is None or resp.status not in (401, 407):
            return resp
        if method == "INVITE":
            self.send(self.ack_for(resp, ruri, branch))
        hdr_in, hdr_out = (("WWW-Authenticate", "Authorization") if resp.status == 401
                           else ("Proxy-Authenticate", "Proxy-Authorization"))
        chal_value = resp.header(hdr_in)
        assert chal_value, f"{resp.status} without {hdr_in}: {resp.raw!r}"
        auth = digest_authorization(parse_challenge(chal_value), method, ruri,
                                    self.user, self.password)
        data, cseq, branch = self.request(method, ruri, to_uri, call_id, from_tag,
                                          [*extra, (hdr_out, auth)], body)
        self.send(data)
        self.last_branch = branch
        return self.final_response(call_id, cseq, timeout)

    def register(self, expires: int = 3600, timeout: float = 5.0) -> SipMessage | None:
        return self.send_with_auth("REGISTER", f"sip:{self.server_hostport}", self.aor,
                                   extra=[("Expires", str(expires))], timeout=timeout)

    def respond(self, req: SipMessage, status: int, reason: str, to_tag: str | None = None,
                extra: list[tuple[str, str]] = (), body: bytes = b"") -> None:
        """Answer a request that arrived on this socket, back to its source."""
        to = req.header("to") or ""
        if to_tag and ";tag=" not in to:
            to = f"{to};tag={to_tag}"
        headers = [("Via", v) for v in req.header_all("via")]
        headers += [("From", req.header("from") or ""), ("To", to),
                    ("Call-ID", req.header("call-id") or ""), ("CSeq", req.header("cseq") or ""),
                    *extra]
        if body:
            headers.append(("Content-Type", "application/sdp"))
        self.send(build(f"SIP/2.0 {status} {reason}", headers, body), req.source)  # type: ignore[attr-defined]
