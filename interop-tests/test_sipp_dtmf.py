"""DTMF between a leg that sends RFC 2833/4733 events and one that only
does SIP INFO, both ways, through the neutral call model (two SIP legs and
a bridge).

The caller is SIPp (PCMA with telephone-event 101): it plays audio, then
SIPp's own `dtmf_2833_1.pcap`. The callee is a small Python UA on the
trunk port that answers PCMU without telephone-event, sends audio, and
signals digits by INFO. Checked:
- SIPp's RFC 2833 digit reaches the callee as one INFO `Signal=1`;
- the callee's INFO digits (`application/dtmf-relay` 5 for 160 ms,
  `application/dtmf` 7) get 200 and reach SIPp as RFC 4733 events with
  its payload type 101, a marker on the first report, three end reports,
  in the callee's RTP stream with no sequence gap or duplicate (tshark on
  SIPp's media port is the witness);
- an INFO with a body the gateway does not read gets 415 with Accept;
- no INFO reaches SIPp (its scenario fails on one)."""

from __future__ import annotations

import socket
import struct
import threading
import time
from pathlib import Path

from harness import ports
from harness.capture import start_capture
from harness.procs import run
from harness.sipua import build, new_branch, new_tag, parse

SCENARIO = Path(__file__).parent / "sipp" / "uac_dtmf_2833.xml"


class InfoOnlyCallee:
    """Answers one INVITE with PCMU only, sends 20 ms PCMU frames, and
    sends INFOs inside the dialog on request."""

    def __init__(self, port: int):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.port = port
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind(("127.0.0.1", 0))
        self.tag = new_tag()
        self.cseq = 0
        self.received = []
        self.stop = threading.Event()
        self.sent_seqs = []

    def recv(self, timeout: float, accept):
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data, src = self.sock.recvfrom(65535)
            except socket.timeout:
                return None
            msg = parse(data)
            msg.source = src
            self.received.append(msg)
            if not msg.is_response and msg.method == "INFO":
                # The gateway's INFO for SIPp's in-band digit.
                self.reply(msg, 200, "OK")
                continue
            if not msg.is_response and msg.method == "BYE":
                self.reply(msg, 200, "OK")
            if accept(msg):
                return msg
        return None

    def reply(self, req, status, reason, body=b"", extra=()):
        to = req.header("to") or ""
        if ";tag=" not in to:
            to += f";tag={self.tag}"
        headers = [("Via", v) for v in req.header_all("via")]
        headers += [("From", req.header("from")), ("To", to), ("Call-ID", req.header("call-id")),
                    ("CSeq", req.header("cseq")), *extra]
        if body:
            headers.append(("Content-Type", "application/sdp"))
        self.sock.sendto(build(f"SIP/2.0 {status} {reason}", headers, body), req.source)

    def answer(self, timeout: float = 20):
        invite = self.recv(timeout, lambda m: m.method == "INVITE")
        assert invite is not None, "the gateway's INVITE never reached the callee"
        self.invite = invite
        sdp = invite.body.decode()
        conn = next(line for line in sdp.split("\r\n") if line.startswith("c="))
        media = next(line for line in sdp.split("\r\n") if line.startswith("m=audio"))
        self.media_to = (conn.split()[-1], int(media.split()[1]))
        rtp_port = self.rtp.getsockname()[1]
        answer = ("v=0\r\no=callee 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
                  f"t=0 0\r\nm=audio {rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
                  "a=sendrecv\r\n").encode()
        self.reply(invite, 200, "OK", answer,
                   extra=[("Contact", f"<sip:callee@127.0.0.1:{self.port}>")])
        assert self.recv(10, lambda m: m.method == "ACK") is not None, "no ACK"
        threading.Thread(target=self._audio, daemon=True).start()

    def _audio(self):
        seq, ts, frame = 1000, 0, bytes([0xFF]) * 160
        while not self.stop.is_set():
            pkt = struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, ts & 0xFFFFFFFF, 0xCA11EE) + frame
            self.rtp.sendto(pkt, self.media_to)
            self.sent_seqs.append(seq)
            seq, ts = seq + 1, ts + 160
            time.sleep(0.02)

    def info(self, content_type: str, body: bytes, timeout: float = 5):
        """INFO inside the dialog; returns the final response."""
        self.cseq += 1
        inv = self.invite
        contact = (inv.header("contact") or "").strip("<>").split(">")[0]
        call_id = inv.header("call-id")
        headers = [
            ("Via", f"SIP/2.0/UDP 127.0.0.1:{self.port};branch={new_branch()};rport"),
            ("Max-Forwards", "70"),
            ("From", f"{inv.header('to')};tag={self.tag}"),
            ("To", inv.header("from")),
            ("Call-ID", call_id),
            ("CSeq", f"{self.cseq} INFO"),
            ("Content-Type", content_type),
        ]
        self.sock.sendto(build(f"INFO {contact} SIP/2.0", headers, body), self.invite.source)
        cseq = f"{self.cseq} INFO"
        while True:
            r = self.recv(timeout, lambda m: m.is_response and m.header("cseq") == cseq)
            if r is None or r.status >= 200:
                return r

    def close(self):
        self.stop.set()
        time.sleep(0.05)
        self.sock.close()
        self.rtp.close()


def rtp_to(pcap: Path, port: int):
    """(seq, pt, marker, ts, ssrc, payload) of each UDP datagram to `port`."""
    out = run(["tshark", "-n", "-r", str(pcap), "-Y", f"udp.dstport == {port}",
               "-T", "fields", "-e", "udp.payload"], timeout=60)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    packets = []
    for line in out.stdout.decode().splitlines():
        raw = bytes.fromhex(line.strip().replace(":", ""))
        if len(raw) < 12 or raw[0] >> 6 != 2:
            continue
        seq, ts, ssrc = struct.unpack("!HII", raw[2:12])
        packets.append((seq, raw[1] & 0x7F, bool(raw[1] & 0x80), ts, ssrc, raw[12:]))
    return packets


def test_rfc2833_to_info_and_info_to_rfc4733(gateway, sipp, procs):
    sipp.pcap_scenario()  # links SIPp's pcaps into its working directory
    ports.require_free(ports.TRUNK_PORT, "the INFO-only callee (trunk)")
    callee = InfoOnlyCallee(ports.TRUNK_PORT)
    uac_media = ports.port(step=4)
    pcap = sipp.workdir / "dtmf.pcap"
    cap = start_capture(procs, pcap, f"udp and dst port {uac_media}")
    try:
        uac, stat = sipp.uac(f"127.0.0.1:{gateway.sip_port}", calls=1, rate=1, service="5000",
                             scenario=SCENARIO, extra=["-mi", "127.0.0.1", "-mp", str(uac_media)],
                             timeout=60)
        callee.answer()
        time.sleep(1.0)
        ok = callee.info("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n")
        assert ok is not None and ok.status == 200, ok and ok.raw
        time.sleep(0.6)
        ok = callee.info("application/dtmf", b"7")
        assert ok is not None and ok.status == 200, ok and ok.raw
        bad = callee.info("text/plain", b"hello")
        assert bad is not None and bad.status == 415, bad and bad.raw
        assert "application/dtmf-relay" in (bad.header("accept") or ""), bad.raw
        # SIPp's digit 1 comes as INFO; then SIPp hangs up.
        bye = callee.recv(30, lambda m: m.method == "BYE")
        assert bye is not None, "SIPp's BYE never reached the callee"
        rc, stats = sipp.finish(uac, stat, timeout=30)
    finally:
        callee.close()
    time.sleep(0.5)
    cap.stop()
    assert stats.successful == 1 and rc == 0, (
        f"SIPp call failed ({stats.failures()}, exit {rc}): an INFO reached it?\n"
        f"{sipp.explain(uac)}")

    infos = [m for m in callee.received if not m.is_response and m.method == "INFO"]
    assert len(infos) == 1, [m.raw for m in infos]
    assert b"Signal=1" in infos[0].body, infos[0].raw
    assert "application/dtmf-relay" in (infos[0].header("content-type") or "")

    got = rtp_to(pcap, uac_media)
    stream = [p for p in got if p[4] == got[-1][4]] if got else []
    assert len(stream) > 50, f"only {len(stream)} RTP packets of the callee reached SIPp"
    events = [p for p in stream if p[1] == 101]
    audio = [p for p in stream if p[1] == 8]
    assert audio, "the callee's audio (PCMU transcoded to PCMA) did not reach SIPp"
    assert {p[1] for p in stream} <= {8, 101}, {p[1] for p in stream}
    digits = {}
    for seq, _, marker, ts, _, payload in events:
        digits.setdefault(ts, []).append((seq, marker, payload[0], bool(payload[1] & 0x80),
                                          struct.unpack("!H", payload[2:4])[0]))
    assert [r[0][2] for r in digits.values()] == [5, 7], digits
    for ts, reports in digits.items():
        assert reports[0][1] and not any(r[1] for r in reports[1:]), (ts, reports)
        ends = [r for r in reports if r[3]]
        assert len(ends) == 3, (ts, reports)
        assert all(r[2] == reports[0][2] for r in reports)
    five = list(digits.values())[0]
    assert [r[4] for r in five if r[3]] == [1280] * 3, five
    # One RTP stream: sequence numbers go on by one across audio and events.
    seqs = [p[0] for p in stream]
    steps = [(b - a) & 0xFFFF for a, b in zip(seqs, seqs[1:])]
    assert all(s == 1 for s in steps), [
        (seqs[i], seqs[i + 1]) for i, s in enumerate(steps) if s != 1][:10]
    # The neutral owner logs each digit it plays into the audio.
    played = [l for l in gateway.log().splitlines()
              if "DTMF relayed to the other leg" in l and "in_band=true" in l]
    assert len(played) == 2, gateway.log()[-3000:]
