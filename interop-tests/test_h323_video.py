"""H.264 video between an H.323 room and a SIP phone through the gateway
process: the project's H.323 simulator (h323/sim.py, pycrate) proposes
H.264 (H.241 generic capability, packetization mode 1 as mediaPacketization,
payload type 109) in Fast Start next to PCMU, and a SIP UA (our own) answers
H.264. Real H.264 (ffmpeg, RFC 6184 packets) crosses both ways unchanged;
keyframe requests cross too: the phone's SIP INFO picture_fast_update
reaches the room as H.245 videoFastUpdatePicture on the channel it sends
video on, and the room's videoFastUpdatePicture reaches the phone as INFO.
The other way round, the phone calls the room with H.264 and the room's
Fast Start answer carries video. tshark dissects the gateway's H.225
(with the OLCs inside fastStart) without malformed packets."""

from __future__ import annotations

import re
import socket
import struct
import sys
import threading
import time
from pathlib import Path

import pytest

from harness import h264, ports
from harness.capture import start_capture
from harness.procs import require_tool, run, wait_until
from harness.sipua import UdpUA, build, digest_authorization, new_tag, parse_challenge

sys.path.insert(0, str(Path(__file__).parent / "h323"))
import sim  # noqa: E402

pytestmark = pytest.mark.skipif(h264.available_encoder() is None,
                                reason="ffmpeg with an H.264 encoder is needed")

ROOM = [("h323-ID", "room-2001"), ("dialledDigits", "2001")]
LOOPBACK = Path(__file__).resolve().parents[1] / "dialplans" / "loopback.toml"
PT = 109
FPS = 15
PICTURE_FAST_UPDATE = (b'<?xml version="1.0" encoding="utf-8" ?>\r\n<media_control>'
                       b'<vc_primitive><to_encoder><picture_fast_update/></to_encoder>'
                       b'</vc_primitive></media_control>')


@pytest.fixture
def gw(gateway_factory):
    ras, cs = ports.port(), ports.port()
    g = gateway_factory(dialplan=LOOPBACK, extra_args=[
        "--h323-listen", "127.0.0.1", "--h323-ras-port", str(ras), "--h323-cs-port", str(cs)])
    g.ras_port, g.cs_port = ras, cs
    g.start()
    return g


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> h264.Stream:
    path = h264.encode(tmp_path_factory.mktemp("h264") / "clip.h264", seconds=2.0, fps=FPS)
    return h264.Stream(h264.access_units(path.read_bytes()))


def udp() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


class VideoPeer:
    """One side's video socket: sends the clip as RTP on `pt` with `ssrc`,
    keeps the payloads it receives (payload type, payload)."""

    def __init__(self, ssrc: int):
        self.sock = udp()
        self.port = self.sock.getsockname()[1]
        self.ssrc = ssrc
        self.got: list[tuple[int, bytes]] = []
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self, clip: h264.Stream, to: tuple[str, int], seconds: float):
        def send():
            seq, ts, k = 1, 0, 0
            t0 = time.monotonic()
            while not self.stop.is_set() and k < seconds * FPS:
                frame = clip.packets[k % len(clip.packets)]
                for i, p in enumerate(frame):
                    marker = 0x80 if i == len(frame) - 1 else 0
                    hdr = struct.pack("!BBHII", 0x80, marker | PT, seq & 0xFFFF, ts, self.ssrc)
                    self.sock.sendto(hdr + p, to)
                    seq += 1
                k += 1
                ts += 90000 // FPS
                delay = t0 + k / FPS - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

        def recv():
            self.sock.settimeout(0.2)
            while not self.stop.is_set():
                try:
                    buf, _ = self.sock.recvfrom(4096)
                except socket.timeout:
                    continue
                except OSError:
                    return
                if len(buf) > 12 and buf[0] >> 6 == 2:
                    self.got.append((buf[1] & 0x7F, buf[12:]))

        self.threads = [threading.Thread(target=f, daemon=True) for f in (send, recv)]
        for t in self.threads:
            t.start()

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=2)
        self.sock.close()


def phone_sdp(audio_port: int, video_port: int) -> bytes:
    return ("v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {audio_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
            f"m=video {video_port} RTP/AVP {PT}\r\na=rtpmap:{PT} H264/90000\r\n"
            f"a=fmtp:{PT} profile-level-id=42e01f;packetization-mode=1\r\n").encode()


def media_ports(sdp: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^m=(\w+) (\d+) ", sdp, re.M)}


def info_to(ua: UdpUA, invite, our_tag: str, cseq: int, body: bytes) -> bytes:
    """An INFO from the callee side of `invite`'s dialog (From and To
    swapped, sent to the caller's Contact)."""
    contact = re.search(r"<([^>]+)>", invite.header("contact") or "").group(1)
    frm = invite.header("from") or ""
    to = invite.header("to") or ""
    return build(f"INFO {contact} SIP/2.0", [
        ("Via", ua.via(new_tag())),
        ("Max-Forwards", "70"),
        ("From", f"{to};tag={our_tag}"),
        ("To", frm),
        ("Call-ID", invite.header("call-id") or ""),
        ("CSeq", f"{cseq} INFO"),
        ("Content-Type", "application/media_control+xml"),
    ], body)


def forwarded(peer: VideoPeer, clip: h264.Stream) -> int:
    """Packets received on the clip's payload type carrying its payloads."""
    ours = clip.payloads()
    return sum(1 for pt, p in peer.got if pt == PT and p in ours)


def test_room_and_phone_exchange_h264_and_keyframe_requests(gw, clip, procs, tmp_path):
    require_tool("tshark")
    pcap = tmp_path / "h225-video.pcap"
    cap = start_capture(procs, pcap, f"tcp port {gw.cs_port}")
    time.sleep(1)
    phone = UdpUA("1001", "pass1001", ("127.0.0.1", gw.sip_port))
    assert phone.register().status == 200
    ras = sim.Ras(("127.0.0.1", gw.ras_port))
    rtp = sim.Rtp()
    room_video, phone_video = VideoPeer(0x2001), VideoPeer(0x1001)
    phone_audio = udp()
    try:
        kind, rcf = ras.rrq(ROOM, cs_port=1720)
        assert kind == "registrationConfirm", (kind, rcf)
        call = sim.Call(("127.0.0.1", gw.cs_port))
        call.connect()
        fast_start = [sim.olc_fast_start(1, "127.0.0.1", rtp.port, receive=False),
                      sim.olc_fast_start(2, "127.0.0.1", rtp.port, receive=True),
                      sim.olc_h264(3, "127.0.0.1", room_video.port, receive=False),
                      sim.olc_h264(4, "127.0.0.1", room_video.port, receive=True)]
        call.setup("1001", ROOM, fast_start, endpoint_id=rcf["endpointIdentifier"])

        invite = phone.recv(5, lambda m: m.method == "INVITE")
        assert invite, f"no INVITE to the phone\n{gw.log()[-3000:]}"
        offer = invite.body.decode()
        assert f"a=rtpmap:{PT} H264/90000" in offer, offer
        assert "packetization-mode=1" in offer, offer
        gw_ports = media_ports(offer)
        tag = new_tag()
        phone.respond(invite, 200, "OK", to_tag=tag,
                      extra=[("Contact", phone.contact)],
                      body=phone_sdp(phone_audio.getsockname()[1], phone_video.port))
        assert phone.recv(5, lambda m: m.method == "ACK"), "no ACK"

        connect = call.wait_for("connect", 5)
        assert connect, f"no Connect: {call.messages}\n{gw.log()[-3000:]}"
        send_to, our_lcn, gw_lcn = call.video_answer()
        assert send_to and our_lcn == 3 and gw_lcn, call.fast_start_olcs()

        room_video.start(clip, send_to, seconds=6)
        phone_video.start(clip, ("127.0.0.1", gw_ports["video"]), seconds=6)
        assert wait_until(lambda: forwarded(phone_video, clip) > 30, timeout=6), (
            f"the phone got {len(phone_video.got)} video packets")
        assert wait_until(lambda: forwarded(room_video, clip) > 30, timeout=6), (
            f"the room got {len(room_video.got)} video packets")

        # the phone asks for a keyframe: the room hears it on channel 3
        phone.send(info_to(phone, invite, tag, 1, PICTURE_FAST_UPDATE))
        assert phone.recv(5, lambda m: m.is_response and "INFO" in (m.header("cseq") or ""))
        assert wait_until(lambda: (call.read_message(0.2), our_lcn in call.fast_updates())[1],
                          timeout=5), f"no videoFastUpdatePicture: {call.h245_in}"
        # the room asks for one: the phone gets INFO picture_fast_update
        call.fast_update(gw_lcn)
        info = phone.recv(5, lambda m: m.method == "INFO")
        assert info and b"picture_fast_update" in info.body, info
        phone.respond(info, 200, "OK")

        call.release()
        assert call.wait_closed(5)
        bye = phone.recv(5, lambda m: m.method == "BYE")
        assert bye, "the phone was not hung up"
        phone.respond(bye, 200, "OK")
        assert wait_until(lambda: gw.metric("gateway_calls_active") == 0, timeout=5)
    finally:
        for p in (room_video, phone_video):
            p.close()
        phone_audio.close()
        rtp.stop()
        ras.close()
        phone.close()
    time.sleep(1)
    cap.stop()
    assert_video_dissects(pcap, gw.cs_port)


def test_phone_calls_room_and_the_rooms_fast_start_answer_carries_h264(gw, clip):
    listener = sim.Listener()
    ras = sim.Ras(("127.0.0.1", gw.ras_port))
    phone = UdpUA("1001", "pass1001", ("127.0.0.1", gw.sip_port))
    room_video, phone_video = VideoPeer(0x2002), VideoPeer(0x1002)
    phone_audio = udp()
    rtp = sim.Rtp()
    try:
        assert phone.register().status == 200
        kind, rcf = ras.rrq(ROOM, cs_port=listener.port)
        assert kind == "registrationConfirm", (kind, rcf)
        ruri = f"sip:2001@127.0.0.1:{gw.sip_port}"
        call_id = f"{new_tag()}@127.0.0.1"
        from_tag = new_tag()
        body = phone_sdp(phone_audio.getsockname()[1], phone_video.port)
        data, cseq, branch = phone.request("INVITE", ruri, ruri, call_id, from_tag, body=body)
        phone.send(data)
        # a registered phone's INVITE is challenged once
        chal = phone.final_response(call_id, cseq, 5)
        assert chal and chal.status in (401, 407), chal and chal.raw
        phone.send(phone.ack_for(chal, ruri, branch))
        hdr_in, hdr_out = (("WWW-Authenticate", "Authorization") if chal.status == 401
                           else ("Proxy-Authenticate", "Proxy-Authorization"))
        auth = digest_authorization(parse_challenge(chal.header(hdr_in)), "INVITE", ruri,
                                    "1001", "pass1001")
        data, cseq, _ = phone.request("INVITE", ruri, ruri, call_id, from_tag,
                                      [(hdr_out, auth)], body)
        phone.send(data)
        room = listener.accept(5)
        assert room, f"the gateway did not call the room\n{gw.log()[-3000:]}"
        assert room.read_setup(5)
        video = [o for o in room.proposals
                 if (o.get('reverseLogicalChannelParameters') or
                     o['forwardLogicalChannelParameters'])['dataType'][0] == 'videoData']
        assert len(video) == 2, room.proposals
        for o in video:
            params = (o.get('reverseLogicalChannelParameters') or
                      o['forwardLogicalChannelParameters'])['multiplexParameters'][1]
            assert params['sessionID'] == 2 and params['dynamicRTPPayloadType'] == PT, params
            assert params['mediaPacketization'][1]['payloadDescriptor'] == ('oid', sim.H264_MODE1_OID)

        # the room accepts audio and video
        answer, _ = room.fast_start_accept(rtp)
        for o in video:
            if 'reverseLogicalChannelParameters' in o:
                rev = dict(o['reverseLogicalChannelParameters'])
                h = dict(rev['multiplexParameters'][1])
                a = h['mediaChannel'][1][1]
                gw_video = (socket.inet_ntoa(a['network']), a['tsapIdentifier'])
                h['mediaControlChannel'] = sim.h245_ip("127.0.0.1", room_video.port + 1)
                rev['multiplexParameters'] = ('h2250LogicalChannelParameters', h)
                answer.append(sim.encode(sim.OLC, dict(o, forwardLogicalChannelNumber=33,
                                                       reverseLogicalChannelParameters=rev)))
            else:
                fwd = dict(o['forwardLogicalChannelParameters'])
                h = dict(fwd['multiplexParameters'][1])
                h['mediaChannel'] = sim.h245_ip("127.0.0.1", room_video.port)
                fwd['multiplexParameters'] = ('h2250LogicalChannelParameters', h)
                answer.append(sim.encode(sim.OLC, dict(o, forwardLogicalChannelParameters=fwd)))
        room.proceeding()
        room.connect_answer(answer)
        ok = phone.final_response(call_id, cseq, 10)
        assert ok and ok.status == 200, ok and ok.raw
        contact = re.search(r"<([^>]+)>", ok.header("contact") or "").group(1)
        phone.send(phone.request_in_dialog("ACK", contact, ok, cseq=cseq))
        ports_ = media_ports(ok.body.decode())
        assert ports_.get("video"), ok.body
        assert f"a=rtpmap:{PT} H264/90000" in ok.body.decode(), ok.body

        room_video.start(clip, gw_video, seconds=5)
        phone_video.start(clip, ("127.0.0.1", ports_["video"]), seconds=5)
        assert wait_until(lambda: forwarded(phone_video, clip) > 30, timeout=6)
        assert wait_until(lambda: forwarded(room_video, clip) > 30, timeout=6)

        room.release()
        assert room.wait_closed(5)
        bye = phone.recv(5, lambda m: m.method == "BYE")
        assert bye
        phone.respond(bye, 200, "OK")
    finally:
        for p in (room_video, phone_video):
            p.close()
        phone_audio.close()
        rtp.stop()
        ras.close()
        phone.close()
        listener.close()


def assert_video_dissects(pcap: Path, cs_port: int):
    """tshark reads the gateway's H.225 messages, the OLCs in fastStart
    included (H.264 as genericVideoCapability), without malformed packets."""
    out = run(["tshark", "-n", "-r", str(pcap), "-Y", f"tcp.srcport=={cs_port} && h245",
               "-T", "fields", "-e", "h245.standardOid", "-e", "h245.oid"], timeout=60)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    text = out.stdout.decode()
    assert "0.0.8.241.0.0.1" in text, f"no H.264 capability dissected in the gateway's OLCs: {text!r}"
    # H.241's RFC 3984 non-interleaved packetization, as tshark names it
    assert "0.0.8.241.0.0.0.1" in text, text
    bad = run(["tshark", "-n", "-r", str(pcap), "-Y",
               f"tcp.srcport=={cs_port} && (_ws.malformed || _ws.expert.severity >= warning)"],
              timeout=60)
    assert bad.returncode == 0, bad.stderr.decode(errors="replace")
    assert not bad.stdout.decode().strip(), bad.stdout.decode()
