"""Meeting 8002 of the loopback dialplan is recorded: two phones with two
tones talk in it, and the Ogg/Opus file the gateway wrote (in the owning
unit's folder) decodes with ffmpeg to audio holding both tones."""

import time

from harness.phones import Baresip, make_tone, tone_levels
from harness.procs import require_tool, run, wait_until

TONES = {"1001": 500.0, "1002": 800.0}


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
