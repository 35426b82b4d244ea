"""Meeting 8002 of the loopback dialplan is recorded: two phones with two
tones talk in it, and the Ogg/Opus file the gateway wrote (in the owning
unit's folder) decodes with ffmpeg to audio holding both tones; its row in
the database (`gateway recordings list`) names the unit, the file's size and
SHA-256 and the recording's length.

A confidential recorded meeting (8003, added to a copy of the loopback
dialplan) is joined by two phones over TLS with SRTP: its file is sealed
(`.ogg.enc`, not Ogg as stored), `gateway recordings decrypt` turns it into
an Ogg holding both tones, and a changed byte or another key is refused."""

import hashlib
import json
import os
import stat
import time

from harness import ports
from harness.gateway import LOOPBACK_DIALPLAN
from harness.phones import Baresip, make_tone, tone_levels
from harness.procs import require_tool, run, wait_until

TONES = {"1001": 500.0, "1002": 800.0}

MEETING_8003 = """
[[meeting]]
number = "8003"
name = "Loopback confidential recorded meeting"
unit = "01"
classification = "confidential"
record = true
"""


def recordings(gw, unit=None):
    """The gateway's recording rows, through the CLI."""
    argv = [str(gw.bin), "recordings", "list", "--db", gw.db_url, "--data-dir", str(gw.data_dir)]
    if unit:
        argv += ["--unit", unit]
    out = run(argv, timeout=30)
    assert out.returncode == 0, out.stderr.decode()
    return [json.loads(line) for line in out.stdout.decode().splitlines() if line.strip()]


def finished_row(gw, number):
    def done():
        rows = [r for r in recordings(gw, "01") if r["meeting_number"] == number]
        return rows if rows and rows[0]["status"] != "recording" else None
    rows = wait_until(done, timeout=15)
    assert rows, f"no finished recording row of {number}: {recordings(gw)}\n{gw.log()[-3000:]}"
    return rows[0]


def ogg_seconds(path):
    out = run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
              timeout=30)
    assert out.returncode == 0, out.stderr.decode()
    return float(out.stdout.decode().strip())


def test_meeting_8002_is_recorded_to_ogg_opus(gateway, procs, tmp_path):
    require_tool("ffmpeg")
    registrar = gateway.sip_uri_host
    phones = {}
    for user, freq in TONES.items():
        wav = make_tone(tmp_path / f"{user}.wav", int(freq), 8, rate=8000)
        phones[user] = Baresip(procs, tmp_path, f"baresip-{user}", user, f"pass{user}", registrar,
                               wav, codec="PCMU/8000/1", answer=False)
        phones[user].start(seconds=60)
    assert gateway.wait_metric("gateway_registrations_active", lambda v: v >= 2, timeout=15) == 2
    for p in phones.values():
        assert p.dial(f"sip:8002@{registrar}").get("ok", True)
    for p in phones.values():
        assert p.wait_log(r"Call established", timeout=15), f"{p.user}:\n{p.log()[-3000:]}"
    for p in phones.values():
        assert p.wait_log(r"terminated", timeout=30), f"{p.user}:\n{p.log()[-3000:]}"
        p.proc.stop()
    assert wait_until(lambda: gateway.metric("gateway_calls_active") == 0, timeout=10)

    folder = gateway.data_dir / "recordings" / "01"
    files = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not files:
        files = sorted(folder.glob("8002-*.ogg"))
        time.sleep(0.2)
    assert files, f"no recording of meeting 8002 under {folder}: {list(gateway.data_dir.rglob('*'))}"
    # The writer closes the file (EOS page) when the meeting ends.
    assert wait_until(lambda: "recording closed" in gateway.log(), timeout=10), gateway.log()[-3000:]

    decoded = tmp_path / "recording.wav"
    out = run(["ffmpeg", "-v", "error", "-y", "-i", str(files[-1]), "-ar", "16000", "-ac", "1",
               str(decoded)], timeout=60)
    assert out.returncode == 0, f"ffmpeg could not decode {files[-1]}: {out.stderr.decode()}"
    probe = run(["ffprobe", "-v", "error", "-show_entries", "stream_tags=MEETING,UNIT:format_tags=MEETING,UNIT",
                 "-of", "default=nw=1", str(files[-1])], timeout=30)
    tags = probe.stdout.decode().lower()
    assert "meeting=8002" in tags and "unit=01" in tags, f"tags of the recording: {tags!r}"
    # Seconds 2..6: both phones are in the meeting and sending.
    levels = tone_levels(decoded, list(TONES.values()), start=2, seconds=4)
    print("recording", {f: round(v, 1) for f, v in levels.items()})
    for f, level in levels.items():
        assert level > -30, f"the recording lacks {f} Hz: levels {levels}"

    row = finished_row(gateway, "8002")
    stored = files[-1].read_bytes()
    assert row["status"] == "complete", row
    assert row["unit_code"] == "01" and row["classification"] == "normal", row
    assert gateway.data_dir / row["file_path"] == files[-1], row
    assert not row["encrypted"] and row["key_id"] is None, row
    assert row["size_bytes"] == len(stored), row
    assert row["sha256"] == hashlib.sha256(stored).hexdigest(), row
    assert row["participants"] == 2, row
    # The stored length is the audio's, as a decoder measures it.
    assert abs(row["duration_ms"] / 1000 - ogg_seconds(files[-1])) < 0.5, row
    assert row["duration_ms"] > 3000, row


def test_confidential_meeting_recording_is_sealed_at_rest(gateway_factory, procs, tmp_path):
    require_tool("ffmpeg")
    dialplan = tmp_path / "loopback-8003.toml"
    dialplan.write_text(LOOPBACK_DIALPLAN.read_text() + MEETING_8003)
    tls_port = ports.port()
    gw = gateway_factory(dialplan=dialplan, extra_args=["--tls-listen", f"127.0.0.1:{tls_port}"])
    gw.start()
    tls_registrar = f"127.0.0.1:{tls_port}"
    tones = {"1001": 500.0, "1003": 1300.0}
    phones = {}
    for user, freq in tones.items():
        wav = make_tone(tmp_path / f"{user}.wav", int(freq), 8, rate=8000)
        phones[user] = Baresip(procs, tmp_path, f"baresip-{user}", user, f"pass{user}", tls_registrar,
                               wav, codec="PCMU/8000/1", answer=False, transport="tls",
                               mediaenc="srtp-mand", extra_modules=("g711.so", "srtp.so"))
        phones[user].start(seconds=60)
    assert gw.wait_metric("gateway_registrations_active", lambda v: v >= 2, timeout=20) == 2
    for p in phones.values():
        assert p.dial(f"sip:8003@{tls_registrar}").get("ok", True)
    for p in phones.values():
        assert p.wait_log(r"Call established", timeout=15), (
            f"{p.user} never joined meeting 8003:\n{p.log()[-3000:]}\n--- gateway ---\n{gw.log()[-3000:]}")
    for p in phones.values():
        assert p.wait_log(r"terminated", timeout=30), f"{p.user}:\n{p.log()[-3000:]}"
        p.proc.stop()
    assert wait_until(lambda: gw.metric("gateway_calls_active") == 0, timeout=10)
    assert wait_until(lambda: "recording closed" in gw.log(), timeout=10), gw.log()[-3000:]

    folder = gw.data_dir / "recordings" / "01"
    sealed = sorted(folder.glob("8003-*.ogg.enc"))
    assert sealed, f"no sealed recording of 8003: {list(gw.data_dir.rglob('*'))}"
    assert not list(folder.glob("8003-*.ogg")), "a clear copy of a confidential meeting"
    stored = sealed[-1].read_bytes()
    assert stored[:8] == b"GWRECENC" and b"OggS" not in stored and b"8003" not in stored
    probe = run(["ffprobe", "-v", "error", str(sealed[-1])], timeout=30)
    assert probe.returncode != 0, "ffprobe read the sealed file as media"

    key_file = gw.data_dir / "recordings.key"
    key = key_file.read_bytes()
    assert len(key) == 32
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    # The key's id is logged when the key is made; the key never is.
    assert "recording key created" in gw.log(), gw.log()[-3000:]
    assert key.hex() not in gw.log()

    row = finished_row(gw, "8003")
    print("row", row)
    assert row["status"] == "complete" and row["classification"] == "confidential", row
    assert row["encrypted"] and row["key_id"] == hashlib.sha256(key).hexdigest()[:16], row
    assert gw.data_dir / row["file_path"] == sealed[-1], row
    assert row["sha256"] == hashlib.sha256(stored).hexdigest() and row["size_bytes"] == len(stored), row
    assert row["participants"] == 2 and row["duration_ms"] > 3000, row

    clear = tmp_path / "8003.ogg"
    out = run([str(gw.bin), "recordings", "decrypt", str(sealed[-1]), "--out", str(clear),
               "--data-dir", str(gw.data_dir)], timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    assert row["key_id"] in out.stdout.decode()
    assert stat.S_IMODE(os.stat(clear).st_mode) == 0o600
    assert abs(row["duration_ms"] / 1000 - ogg_seconds(clear)) < 0.5, row
    decoded = tmp_path / "8003.wav"
    dec = run(["ffmpeg", "-v", "error", "-y", "-i", str(clear), "-ar", "16000", "-ac", "1", str(decoded)],
              timeout=60)
    assert dec.returncode == 0, dec.stderr.decode()
    levels = tone_levels(decoded, list(tones.values()), start=2, seconds=4)
    print("decrypted recording", {f: round(v, 1) for f, v in levels.items()})
    for f, level in levels.items():
        assert level > -30, f"the decrypted recording lacks {f} Hz: levels {levels}"

    # One changed byte: refused, naming the chunk, and no output left behind.
    tampered = tmp_path / "tampered.ogg.enc"
    bad = bytearray(stored)
    bad[len(bad) // 2] ^= 0x01
    tampered.write_bytes(bytes(bad))
    target = tmp_path / "tampered.ogg"
    out = run([str(gw.bin), "recordings", "decrypt", str(tampered), "--out", str(target),
               "--data-dir", str(gw.data_dir)], timeout=60)
    assert out.returncode != 0 and "chunk" in out.stderr.decode(), out.stderr.decode()
    assert not target.exists() and not list(tmp_path.glob("tampered.ogg.partial"))
    # Another key: refused before decrypting, naming both key ids.
    other = tmp_path / "other.key"
    other.write_bytes(os.urandom(32))
    out = run([str(gw.bin), "recordings", "decrypt", str(sealed[-1]), "--out", str(target),
               "--key-file", str(other)], timeout=60)
    assert out.returncode != 0 and row["key_id"] in out.stderr.decode(), out.stderr.decode()


def test_a_bad_recording_key_file_stops_the_start(tmp_path):
    """A key file that is not 32 bytes is refused when the gateway starts,
    naming the file, and left as it was: never a classified meeting that
    runs unsealed or unrecorded."""
    import subprocess
    from harness.gateway import gateway_bin
    data = tmp_path / "gw-badkey"
    data.mkdir()
    key = data / "recordings.key"
    key.write_bytes(b"too short")
    argv = [str(gateway_bin()), "run", "--sip-listen", f"127.0.0.1:{ports.port()}",
            "--admin-listen", f"127.0.0.1:{ports.port()}", "--db", f"sqlite://{data / 'gw.db'}",
            "--data-dir", str(data), "--dialplan", str(LOOPBACK_DIALPLAN)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert p.returncode != 0, p.stdout[-2000:]
    said = p.stdout + p.stderr
    assert "recording key file" in said and str(key) in said, said[-2000:]
    assert key.read_bytes() == b"too short"
