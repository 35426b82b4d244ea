"""WebRTC legs in a meeting (issue 7): an aiortc WHIP publisher sends a
440 Hz tone into meeting 8000, where a SIP phone (baresip, PCMU) hears it;
an aiortc WHEP subscriber hears the phone's 800 Hz tone. Frequencies are
measured on the decoded audio. Also: the WHIP/WHEP HTTP answers a real
client sees (201, Location, ETag, DELETE 200, 404 for an unknown meeting).

aiortc refuses loopback for ICE; its host-address discovery is pointed at
127.0.0.1 (INTEROP.md), which is all an ICE-lite server needs."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
import urllib.error
import urllib.request
import wave

import pytest

from harness.phones import Baresip, make_tone, tone_levels

aiortc = pytest.importorskip("aiortc", reason="PyPI aiortc (interop-tests/requirements.txt)")
import aioice.ice  # noqa: E402  (aiortc brings it)
from aiortc import RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.contrib.media import MediaPlayer  # noqa: E402

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

PUBLISHED = 440.0
PHONE = 800.0


def _http(method: str, url: str, body: bytes = b"", ctype: str | None = None,
          headers: dict | None = None):
    """(status, headers, body) of one request; the gateway's certificate is
    self-signed, so it is not verified (loopback only)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    req = urllib.request.Request(url, data=body if method in ("POST", "PATCH") else None,
                                 method=method)
    if ctype:
        req.add_header("Content-Type", ctype)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def _web(gateway) -> str:
    return f"https://127.0.0.1:{gateway.web_port}"


async def _offer(pc: RTCPeerConnection) -> str:
    await pc.setLocalDescription(await pc.createOffer())
    # aiortc gathers every candidate inside setLocalDescription
    return pc.localDescription.sdp


def test_whip_and_whep_http_answers(gateway):
    base = _web(gateway)

    async def go():
        pc = RTCPeerConnection()
        pc.addTransceiver("audio", direction="sendonly")
        offer = await _offer(pc)
        await pc.close()
        return offer

    offer = asyncio.run(go())
    status, headers, body = _http("POST", f"{base}/whip/99999", offer.encode(), "application/sdp")
    assert status == 404, (status, body)
    assert headers.get("Content-Type") == "application/problem+json"
    assert "99999" in json.loads(body)["detail"]

    status, _, body = _http("POST", f"{base}/whip/8000", b"hello", "application/sdp")
    assert status == 400, (status, body)
    status, _, body = _http("POST", f"{base}/whip/8000", offer.encode(), "text/plain")
    assert status == 415, (status, body)

    status, headers, body = _http("POST", f"{base}/whip/8000", offer.encode(), "application/sdp")
    assert status == 201, (status, body)
    loc = headers["Location"]
    assert loc.startswith("/whip/8000/"), loc
    assert headers.get("ETag"), headers
    assert b"a=ice-lite" in body and b"opus/48000/2" in body, body
    assert gateway.wait_metric("gateway_calls_active", lambda v: v >= 1, timeout=5) == 1
    status, _, _ = _http("PATCH", base + loc,
                         b"a=candidate:1 1 udp 2113929471 127.0.0.1 9 typ host\r\n",
                         "application/trickle-ice-sdpfrag", {"If-Match": headers["ETag"]})
    assert status == 204
    status, _, _ = _http("DELETE", base + loc)
    assert status == 200
    assert gateway.wait_metric("gateway_calls_active", lambda v: v == 0, timeout=5) == 0
    status, _, _ = _http("DELETE", base + loc)
    assert status == 404


def _write_wav(path, frames) -> None:
    """Frames (aiortc AudioFrames, packed s16) as 16-bit mono at their rate."""
    from array import array

    rate = frames[0].sample_rate
    out = array("h")
    for f in frames:
        assert f.format.name == "s16", f.format.name
        channels = len(f.layout.channels)
        # the plane may be padded past the samples
        raw = bytes(f.planes[0])[: f.samples * channels * 2]
        out.extend(array("h", raw)[::channels])
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(out.tobytes())


def test_whip_publisher_and_sip_phone_hear_each_other_in_meeting_8000(gateway, procs, tmp_path):
    base = _web(gateway)
    registrar = gateway.sip_uri_host
    phone_wav = make_tone(tmp_path / "phone.wav", int(PHONE), 12, rate=8000)
    published_wav = make_tone(tmp_path / "whip.wav", int(PUBLISHED), 40, rate=48000, channels=2)
    phone = Baresip(procs, tmp_path, "baresip-1001", "1001", "pass1001", registrar, phone_wav,
                    codec="PCMU/8000/1", answer=False)
    phone.start(seconds=90)
    assert gateway.wait_metric("gateway_registrations_active", lambda v: v >= 1, timeout=15) == 1

    async def go():
        # WHIP: the publisher's tone goes in
        pub = RTCPeerConnection()
        player = MediaPlayer(str(published_wav))
        pub.addTrack(player.audio)
        status, headers, answer = await asyncio.to_thread(
            _http, "POST", f"{base}/whip/8000", (await _offer(pub)).encode(), "application/sdp")
        assert status == 201, (status, answer)
        whip_loc = headers["Location"]
        await pub.setRemoteDescription(RTCSessionDescription(answer.decode(), "answer"))

        # WHEP: the subscriber records what the meeting sends it
        sub = RTCPeerConnection()
        sub.addTransceiver("audio", direction="recvonly")
        tracks = asyncio.Queue()
        sub.on("track", lambda t: tracks.put_nowait(t))
        status, headers, answer = await asyncio.to_thread(
            _http, "POST", f"{base}/whep/8000", (await _offer(sub)).encode(), "application/sdp")
        assert status == 201, (status, answer)
        whep_loc = headers["Location"]
        await sub.setRemoteDescription(RTCSessionDescription(answer.decode(), "answer"))
        track = await asyncio.wait_for(tracks.get(), 10)

        deadline = time.monotonic() + 15
        while pub.iceConnectionState != "completed" or sub.iceConnectionState != "completed":
            assert time.monotonic() < deadline, (
                f"ICE: publisher {pub.iceConnectionState}, subscriber {sub.iceConnectionState}")
            await asyncio.sleep(0.1)

        reply = await asyncio.to_thread(phone.dial, f"sip:8000@{registrar}")
        assert reply.get("ok", True), reply
        assert await asyncio.to_thread(phone.wait_log, r"Call established", 15), phone.log()[-3000:]
        # Record the subscriber for 8 s while the phone's tone plays.
        frames = []
        end = time.monotonic() + 8
        while time.monotonic() < end:
            frames.append(await asyncio.wait_for(track.recv(), 5))
        assert await asyncio.to_thread(phone.wait_log, r"terminated", 20), phone.log()[-3000:]

        for loc in (whip_loc, whep_loc):
            status, _, _ = await asyncio.to_thread(_http, "DELETE", base + loc)
            assert status == 200, loc
        await pub.close()
        await sub.close()
        player.audio.stop()
        return frames

    frames = asyncio.run(go())
    phone.proc.stop()
    assert gateway.wait_metric("gateway_calls_active", lambda v: v == 0, timeout=10) == 0

    sub_wav = tmp_path / "whep.wav"
    _write_wav(sub_wav, frames)
    heard_by_subscriber = tone_levels(sub_wav, [PHONE, PUBLISHED], start=2, seconds=5)
    wavs = phone.dec_wavs()
    assert wavs, "baresip dumped no decoded audio"
    heard_by_phone = tone_levels(wavs[-1], [PUBLISHED, PHONE], start=3, seconds=6)
    print("subscriber", heard_by_subscriber, "phone", heard_by_phone)
    assert heard_by_phone[PUBLISHED] > -30, f"the phone does not hear the WHIP tone: {heard_by_phone}"
    assert heard_by_phone[PHONE] < heard_by_phone[PUBLISHED] - 20, heard_by_phone
    assert heard_by_subscriber[PHONE] > -30, (
        f"the WHEP subscriber does not hear the phone: {heard_by_subscriber}")
    # a subscriber hears everyone else, the WHIP publisher too
    assert heard_by_subscriber[PUBLISHED] > -30, heard_by_subscriber
    log = gateway.log()
    assert "WebRTC leg connected" in log and "WebRTC session ended" in log
