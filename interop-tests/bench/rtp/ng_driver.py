#!/usr/bin/env python3
"""Minimal rtpengine "ng" control client for the RTP relay benchmark.

setup:    one offer/answer per stream, endpoint A at <ip>:<a-base + 2i> and
          B at <ip>:<b-base + 2i>; prints the same stream list as the
          gateway's relay_bench example, so one load generator drives both.
          With --srtp SUITE, A offers RTP/SAVP with an SDES key of its own and
          rtpengine is told to offer B plain RTP/AVP: it then does SRTP on
          A's side and RTP on B's, and its answer to A carries the key it
          protects with. Both keys go into the list as "a_srtp" (hex).
teardown: deletes the calls.

The ng protocol is a cookie, a space and a bencoded dictionary over UDP.
"""
import argparse
import base64
import json
import os
import re
import socket
import sys


def bencode(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    if isinstance(v, dict):
        return b"d" + b"".join(bencode(k) + bencode(v[k]) for k in sorted(v)) + b"e"
    raise TypeError(type(v))


def bdecode(data, i=0):
    c = data[i:i + 1]
    if c == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1:end]), end + 1
    if c == b"l":
        out, i = [], i + 1
        while data[i:i + 1] != b"e":
            v, i = bdecode(data, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        out, i = {}, i + 1
        while data[i:i + 1] != b"e":
            k, i = bdecode(data, i)
            v, i = bdecode(data, i)
            out[k.decode()] = v
        return out, i + 1
    colon = data.index(b":", i)
    n = int(data[i:colon])
    s = data[colon + 1:colon + 1 + n]
    if len(s) != n:
        raise ValueError("truncated bencode string")
    return s, colon + 1 + n


class Ng:
    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.addr = (host, int(port))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(2.0)
        self.n = 0

    def call(self, msg):
        self.n += 1
        cookie = b"%d_%d" % (os.getpid(), self.n)
        for _ in range(3):
            self.sock.sendto(cookie + b" " + bencode(msg), self.addr)
            try:
                while True:
                    data, _ = self.sock.recvfrom(65535)
                    got_cookie, _, body = data.partition(b" ")
                    if got_cookie == cookie:
                        reply, _ = bdecode(body)
                        if reply.get("result") not in (b"ok", b"pong"):
                            raise RuntimeError("rtpengine: %r" % reply)
                        return reply
            except socket.timeout:
                continue
        raise RuntimeError("rtpengine did not answer %s" % msg.get("command"))


def sdp(ip, port, crypto=None):
    proto = "RTP/SAVP" if crypto else "RTP/AVP"
    text = ("v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=bench\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
            "m=audio {port} {proto} 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n").format(
                ip=ip, port=port, proto=proto)
    if crypto:
        suite, key = crypto
        text += "a=crypto:1 %s inline:%s\r\n" % (suite, base64.b64encode(key).decode())
    return text


def sdes_key(sdp_bytes, suite):
    """The key||salt of the answer's a=crypto line for `suite`."""
    m = re.search(r"^a=crypto:\d+ %s inline:([A-Za-z0-9+/=]+)" % re.escape(suite),
                  sdp_bytes.decode(), re.M)
    if not m:
        raise RuntimeError("rtpengine's answer has no %s key" % suite)
    return base64.b64decode(m.group(1))


def media_addr(sdp_bytes):
    text = sdp_bytes.decode()
    ip = re.search(r"^c=IN IP4 (\S+)", text, re.M).group(1)
    port = int(re.search(r"^m=audio (\d+)", text, re.M).group(1))
    return "%s:%d" % (ip, port)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("action", choices=["ping", "setup", "teardown"])
    p.add_argument("--ng", default="127.0.0.1:2223")
    p.add_argument("--streams", type=int, default=50)
    p.add_argument("--ip", default="127.0.0.1")
    p.add_argument("--a-base", type=int, default=25000)
    p.add_argument("--b-base", type=int, default=27000)
    p.add_argument("--srtp", metavar="SUITE", help="SDES suite on A's side, e.g. AES_CM_128_HMAC_SHA1_80")
    a = p.parse_args()
    ng = Ng(a.ng)
    if a.action == "ping":
        ng.call({"command": "ping"})
        return
    flags = {"replace": ["origin", "session-connection"], "ICE": "remove"}
    out = []
    for i in range(a.streams):
        call = {"call-id": "bench-%d" % i, "from-tag": "a%d" % i}
        if a.action == "teardown":
            ng.call(dict(call, command="delete"))
            continue
        a_ep, b_ep = a.a_base + 2 * i, a.b_base + 2 * i
        # The offer's rewritten SDP is what B gets: where B sends to.
        a_key = None
        offer_flags = dict(flags)
        if a.srtp:
            # 16-byte AES key + 14-byte salt for the AES_CM_128 suites.
            a_key = os.urandom(30)
            offer_flags["transport-protocol"] = "RTP/AVP"
        offer = ng.call(dict(call, **offer_flags, command="offer",
                             sdp=sdp(a.ip, a_ep, a.srtp and (a.srtp, a_key))))
        answer = ng.call(dict(call, **flags, command="answer", sdp=sdp(a.ip, b_ep), **{"to-tag": "b%d" % i}))
        entry = {
            "a_local": "%s:%d" % (a.ip, a_ep),
            "a_target": media_addr(answer["sdp"]),
            "b_local": "%s:%d" % (a.ip, b_ep),
            "b_target": media_addr(offer["sdp"]),
        }
        if a.srtp:
            if b"RTP/SAVP" in offer["sdp"]:
                raise RuntimeError("rtpengine offered SRTP to B")
            entry["a_srtp"] = {
                "suite": a.srtp,
                "a_send": a_key.hex(),
                "a_recv": sdes_key(answer["sdp"], a.srtp).hex(),
            }
        out.append(entry)
    if a.action == "setup":
        json.dump({"streams": out}, sys.stdout)
        sys.stdout.write("\n")


if __name__ == "__main__":
    main()
