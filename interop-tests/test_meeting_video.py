"""Switched video in meeting 8000: three SIP rooms (our own UA) join with
PCMU audio and H.264 video (real streams from ffmpeg, FU-A packetized) and
take turns talking. Each room must receive the active speaker's video —
the speaker's payload bytes, on one SSRC, with gap-free sequence numbers,
each new source starting at a keyframe — and the speaker the previous
speaker's. Taking the floor gets a room asked for a keyframe: by RTCP PLI
when it offered `a=rtcp-fb:96 nack pli`, by SIP INFO picture_fast_update
when it did not."""

from __future__ import annotations

import math
import re
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

import pytest

from harness import h264
from harness.procs import wait_until
from harness.sipua import UdpUA, new_tag

pytestmark = pytest.mark.skipif(h264.available_encoder() is None,
                                reason="ffmpeg with an H.264 encoder is needed")

ROOMS = ("A", "B", "C")
CLIPS = {"A": "testsrc", "B": "testsrc2", "C": "mandelbrot"}
# Who talks when (seconds from the start of media).
TURNS = (("A", 0.0, 3.5), ("B", 3.5, 7.0), ("C", 7.0, 10.5))
DURATION = 11.0
FPS = 15


def talker(t: float) -> str | None:
    for name, start, end in TURNS:
        if start <= t < end:
            return name
    return None


def ulaw(sample: int) -> int:
    """G.711 mu-law of a 16-bit sample."""
    sign = 0x80 if sample < 0 else 0
    mag = min(abs(sample), 32635) + 0x84
    exp = 7
    while exp > 0 and not mag & (0x4000 >> (7 - exp)):
        exp -= 1
    mant = (mag >> (exp + 3)) & 0x0F
    return ~(sign | (exp << 4) | mant) & 0xFF


TONE = [bytes(ulaw(int(9000 * math.sin(2 * math.pi * 500 * (k * 160 + i) / 8000)))
              for i in range(160)) for k in range(50)]
SILENCE = bytes([0xFF]) * 160


@dataclass
class Room:
    name: str
    gateway_port: int
    feedback: bool
    stream: h264.Stream
    ua: UdpUA = field(init=False)
    audio: socket.socket = field(init=False)
    video: socket.socket = field(init=False)
    video_rtcp: socket.socket = field(init=False)
    video_ssrc: int = 0
    # Filled while media runs.
    got_video: list = field(default_factory=list)   # (t, ssrc, seq, ts, payload)
    got_audio: int = 0
    plis: list = field(default_factory=list)        # (t, media ssrc)
    infos: list = field(default_factory=list)       # (t, body)
    key_wanted: bool = False

    def __post_init__(self):
        self.ua = UdpUA(f"room{self.name}", "", ("127.0.0.1", self.gateway_port))
        self.audio, self.video, self.video_rtcp = (self._udp() for _ in range(3))
        self.video_ssrc = 0x5EED0000 + ord(self.name)

    @staticmethod
    def _udp() -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        return s

    def port(self, s: socket.socket) -> int:
        return s.getsockname()[1]

    def offer(self) -> bytes:
        fb = "a=rtcp-fb:96 nack pli\r\n" if self.feedback else ""
        return ("v=0\r\n"
                f"o=room{self.name} 1 1 IN IP4 127.0.0.1\r\ns=room\r\n"
                "c=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                f"m=audio {self.port(self.audio)} RTP/AVP 0\r\n"
                "a=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
                f"m=video {self.port(self.video)} RTP/AVP 96\r\n"
                "a=rtpmap:96 H264/90000\r\n"
                "a=fmtp:96 profile-level-id=42e01f;packetization-mode=1\r\n"
                f"a=rtcp:{self.port(self.video_rtcp)}\r\n{fb}a=sendrecv\r\n").encode()


def media_ports(sdp: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^m=(\w+) (\d+) ", sdp, re.M)}


def join(room: Room, sip_host: str):
    ruri = f"sip:8000@{sip_host}"
    call_id = f"{new_tag()}@127.0.0.1"
    data, cseq, _ = room.ua.request("INVITE", ruri, ruri, call_id, new_tag(), body=room.offer())
    room.ua.send(data)
    ok = room.ua.final_response(call_id, cseq, 5.0)
    assert ok is not None and ok.status == 200, f"room {room.name} not admitted: {ok and ok.raw!r}"
    contact = re.search(r"<([^>]+)>", ok.header("contact") or "")
    target = contact.group(1) if contact else ruri
    room.ua.send(room.ua.request_in_dialog("ACK", target, ok, cseq=cseq))
    answer = ok.body.decode()
    return ok, target, answer


def sender(room: Room, to_audio, to_video, t0: float, stop: threading.Event):
    seq_a, seq_v, ts_v = 1, 1000, 90000
    frame, next_frame = 0, 0.0
    k = 0
    while not stop.is_set():
        t = time.monotonic() - t0
        if t >= DURATION:
            break
        body = TONE[k % len(TONE)] if talker(t) == room.name else SILENCE
        room.audio.sendto(struct.pack("!BBHII", 0x80, 0, seq_a & 0xFFFF, seq_a * 160, 0xA0D10)
                          + body, to_audio)
        seq_a += 1
        k += 1
        if t >= next_frame:
            if room.key_wanted:
                room.key_wanted = False
                frame = room.stream.next_keyframe(0)
            packets = room.stream.packets[frame]
            for i, p in enumerate(packets):
                marker = 0x80 if i == len(packets) - 1 else 0
                room.video.sendto(struct.pack("!BBHII", 0x80, 96 | marker, seq_v & 0xFFFF,
                                              ts_v & 0xFFFFFFFF, room.video_ssrc) + p, to_video)
                seq_v += 1
            ts_v += 90000 // FPS
            frame = (frame + 1) % len(room.stream.packets)
            next_frame += 1.0 / FPS
        time.sleep(max(0.0, 0.02 * k - (time.monotonic() - t0)))


def receiver(room: Room, t0: float, stop: threading.Event):
    socks = [room.audio, room.video, room.video_rtcp]
    while not stop.is_set():
        ready, _, _ = select.select(socks, [], [], 0.05)
        for s in ready:
            data = s.recv(4096)
            t = time.monotonic() - t0
            if s is room.audio:
                room.got_audio += 1
            elif s is room.video and len(data) > 12:
                _, _, seq, ts, ssrc = struct.unpack("!BBHII", data[:12])
                cc = data[0] & 0x0F
                room.got_video.append((t, ssrc, seq, ts, data[12 + 4 * cc:]))
            elif s is room.video_rtcp:
                off = 0
                while off + 12 <= len(data):
                    pt, length = data[off + 1], struct.unpack("!H", data[off + 2:off + 4])[0]
                    if pt == 206 and data[off] & 0x1F == 1:
                        room.plis.append((t, struct.unpack("!I", data[off + 8:off + 12])[0]))
                        room.key_wanted = True
                    off += (length + 1) * 4


def test_rooms_see_the_active_speaker_and_new_speakers_are_asked_for_keyframes(gateway, tmp_path):
    streams = {}
    for name, src in CLIPS.items():
        clip = h264.encode(tmp_path / f"{name}.h264", src, seconds=2.0, fps=FPS, gop=FPS)
        streams[name] = h264.Stream(h264.access_units(clip.read_bytes()))
    payloads = {n: s.payloads() for n, s in streams.items()}
    every = set().union(*payloads.values())
    # Parameter sets can be byte-identical between clips; the pictures are not.
    unique = {n: payloads[n] - set().union(*(payloads[m] for m in ROOMS if m != n))
              for n in ROOMS}
    assert all(len(unique[n]) > len(payloads[n]) // 2 for n in ROOMS), "clips too alike"

    rooms = {n: Room(n, gateway.sip_port, feedback=(n != "C"), stream=streams[n]) for n in ROOMS}
    dialogs = {}
    for n, r in rooms.items():
        ok, target, answer = join(r, gateway.sip_uri_host)
        ports = media_ports(answer)
        assert ports.get("video", 0) != 0, f"room {n}: video refused:\n{answer}"
        assert ("a=rtcp-fb:96 nack pli" in answer) == r.feedback, f"room {n}:\n{answer}"
        dialogs[n] = (ok, target, ports)

    t0 = time.monotonic()
    stop = threading.Event()
    threads = []
    for n, r in rooms.items():
        ports = dialogs[n][2]
        threads.append(threading.Thread(target=sender, daemon=True, args=(
            r, ("127.0.0.1", ports["audio"]), ("127.0.0.1", ports["video"]), t0, stop)))
        threads.append(threading.Thread(target=receiver, daemon=True, args=(r, t0, stop)))
    for th in threads:
        th.start()
    # Signalling meanwhile: answer the gateway's INFOs, note the keyframe asks.
    while time.monotonic() - t0 < DURATION + 0.5:
        for r in rooms.values():
            msg = r.ua.recv(0.02, lambda m: not m.is_response and m.method == "INFO")
            if msg is not None:
                r.infos.append((time.monotonic() - t0, msg.body.decode(errors="replace"),
                                msg.header("content-type")))
                r.ua.respond(msg, 200, "OK")
                if b"picture_fast_update" in msg.body:
                    r.key_wanted = True
    stop.set()
    for th in threads:
        th.join(timeout=2)
    for n, r in rooms.items():
        ok, target, _ = dialogs[n]
        r.ua.cseq = 10
        r.ua.send(r.ua.request_in_dialog("BYE", target, ok, cseq=10))

    def sources_of(got: list) -> list[str]:
        """The room each packet came from; a shared parameter set belongs
        to the picture it precedes."""
        out = [next((n for n in ROOMS if g[4] in unique[n]), None) for g in got]
        nxt = "?"
        for i in range(len(out) - 1, -1, -1):
            if out[i] is None:
                out[i] = nxt if got[i][4] in every else "?"
            else:
                nxt = out[i]
        return out

    expected = {"A": ["B", "C"], "B": ["A", "C"], "C": ["A", "B"]}
    for n, r in rooms.items():
        got = r.got_video
        assert len(got) > 100, f"room {n} got {len(got)} video packets\n{gateway.log()[-3000:]}"
        assert r.got_audio > 300, f"room {n}: audio disturbed ({r.got_audio} packets)"
        ssrcs = {g[1] for g in got}
        assert len(ssrcs) == 1, f"room {n}: one rewritten SSRC across switches, got {ssrcs}"
        sources = sources_of(got)
        assert "?" not in sources, f"room {n}: payload bytes not from any room"
        runs = [s for i, s in enumerate(sources) if i == 0 or s != sources[i - 1]]
        assert runs == expected[n], f"room {n} saw {runs}, expected {expected[n]}"
        for i in range(1, len(got)):
            assert got[i][2] == (got[i - 1][2] + 1) & 0xFFFF, (
                f"room {n}: sequence {got[i - 1][2]} -> {got[i][2]} at {got[i][0]:.2f}s")
            assert (got[i][3] - got[i - 1][3]) & 0xFFFFFFFF < 0x80000000, (
                f"room {n}: timestamp went back at {got[i][0]:.2f}s")
            if sources[i] != sources[i - 1]:
                assert h264.keyframe_start(got[i][4]), (
                    f"room {n}: switched to {sources[i]} at {got[i][0]:.2f}s mid-picture")
        assert h264.keyframe_start(got[0][4]), f"room {n}: the first packet is not a keyframe"
        print(n, "runs", runs, "packets", len(got), "audio", r.got_audio,
              "plis", [round(p[0], 2) for p in r.plis], "infos", [round(i[0], 2) for i in r.infos])

    b = rooms["B"]
    assert any(t > 3.5 and ssrc == b.video_ssrc for t, ssrc in b.plis), (
        f"B took the floor without a PLI naming its SSRC: {b.plis}")
    c = rooms["C"]
    assert not c.plis, "C negotiated no RTCP feedback but got PLIs"
    fast = [i for i in c.infos if i[0] > 7.0 and "picture_fast_update" in i[1]]
    assert fast, f"C took the floor without INFO picture_fast_update: {c.infos}"
    assert (fast[0][2] or "").startswith("application/media_control+xml")
    assert wait_until(lambda: gateway.metric("gateway_calls_active") == 0, timeout=10), (
        "rooms still counted after their BYEs")
