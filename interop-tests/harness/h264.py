"""A real H.264 stream for media tests: encoded by ffmpeg (libx264, or any
H.264 encoder it has), split into access units from the Annex B byte
stream, and packetized for RTP as RFC 6184 packetization-mode 1 (single
NAL unit packets, FU-A for NAL units over the MTU)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ENCODERS = ("libx264", "h264_v4l2m2m", "h264_omx", "h264_vaapi")


def available_encoder() -> str | None:
    if shutil.which("ffmpeg") is None:
        return None
    out = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True,
                         text=True).stdout
    for enc in ENCODERS:
        if f" {enc} " in out:
            return enc
    return None


def encode(path: Path, source: str = "testsrc", seconds: float = 2.0, fps: int = 15,
           gop: int = 15, size: str = "320x240") -> Path:
    """Encode `seconds` of an ffmpeg lavfi `source` as a raw H.264 stream
    (baseline, no B frames, a keyframe every `gop` frames)."""
    enc = available_encoder()
    assert enc, "ffmpeg has no H.264 encoder"
    args = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
            "-i", f"{source}=size={size}:rate={fps}", "-t", str(seconds), "-c:v", enc,
            "-pix_fmt", "yuv420p", "-g", str(gop), "-bf", "0"]
    if enc == "libx264":
        args += ["-profile:v", "baseline", "-tune", "zerolatency"]
    subprocess.run([*args, "-f", "h264", str(path)], check=True)
    return path


def nal_units(stream: bytes) -> list[bytes]:
    """NAL units of an Annex B byte stream (start codes removed)."""
    units, i, n = [], 0, len(stream)
    starts = []
    while i < n - 2:
        if stream[i] == 0 and stream[i + 1] == 0 and stream[i + 2] == 1:
            starts.append(i + 3)
            i += 3
        else:
            i += 1
    for k, s in enumerate(starts):
        end = starts[k + 1] - 3 if k + 1 < len(starts) else n
        unit = stream[s:end].rstrip(b"\x00") if k + 1 < len(starts) else stream[s:end]
        if unit:
            units.append(unit)
    return units


def access_units(stream: bytes) -> list[list[bytes]]:
    """NAL units grouped into frames: parameter sets and SEI join the next
    picture; each slice with first_mb_in_slice 0 starts a new picture."""
    frames: list[list[bytes]] = []
    pending: list[bytes] = []
    for nal in nal_units(stream):
        t = nal[0] & 0x1F
        if t in (1, 5):
            # first_mb_in_slice is ue(v): a leading 1 bit means 0.
            new_picture = len(nal) > 1 and nal[1] & 0x80
            if new_picture or not frames:
                frames.append(pending + [nal])
            else:
                frames[-1].extend(pending + [nal])
            pending = []
        elif t == 9:
            continue
        else:
            pending.append(nal)
    return frames


def is_keyframe(frame: list[bytes]) -> bool:
    return any(n[0] & 0x1F == 5 for n in frame)


def packetize(frame: list[bytes], mtu: int = 1000) -> list[bytes]:
    """RTP payloads of one frame (packetization-mode 1)."""
    out = []
    for nal in frame:
        if len(nal) <= mtu:
            out.append(nal)
            continue
        header, body = nal[0], nal[1:]
        indicator = (header & 0xE0) | 28
        chunks = [body[i:i + mtu] for i in range(0, len(body), mtu)]
        for k, c in enumerate(chunks):
            fu = header & 0x1F
            if k == 0:
                fu |= 0x80
            if k == len(chunks) - 1:
                fu |= 0x40
            out.append(bytes([indicator, fu]) + c)
    return out


def keyframe_start(payload: bytes) -> bool:
    """Whether an RTP payload begins an IDR picture (or its SPS/PPS)."""
    if not payload:
        return False
    t = payload[0] & 0x1F
    if t == 28:
        return len(payload) > 1 and payload[1] & 0x80 != 0 and payload[1] & 0x1F in (5, 7, 8)
    if t == 24:
        return len(payload) > 3 and payload[3] & 0x1F in (5, 7, 8)
    return t in (5, 7, 8)


@dataclass
class Stream:
    """A looping packetized H.264 clip: (payloads, marker, frame index)."""

    frames: list[list[bytes]]
    mtu: int = 1000

    def __post_init__(self):
        self.packets = [packetize(f, self.mtu) for f in self.frames]
        self.keyframes = [i for i, f in enumerate(self.frames) if is_keyframe(f)]
        assert self.keyframes, "the clip has no IDR frame"

    def payloads(self) -> set[bytes]:
        return {p for f in self.packets for p in f}

    def next_keyframe(self, after: int) -> int:
        for k in self.keyframes:
            if k >= after:
                return k
        return self.keyframes[0]
