"""A SIP caller's RFC 2833/4733 digit reaches an H.323 room as H.245
UserInputIndication.

SIPp (PCMA with telephone-event 101, the scenario of test_sipp_dtmf.py)
dials 2001; room 2001 (the project's H.323 simulator, pycrate) is
registered, answers the gateway's Setup with Fast Start (PCMU) and reads
the tunnelled H.245. SIPp plays audio, then SIPp's own `dtmf_2833_1.pcap`
(digit 1 as RTP events, with its repeated end reports) and hangs up.
Checked: the room gets exactly one user input, `1` (a DTMF signal, since
its capability set offers dtmf), then ReleaseComplete with normal
clearing; SIPp's call succeeds (no INFO reaches it); tshark dissects the
gateway's H.225 to the room, the user input included, without malformed
packets or expert errors."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from harness import ports
from harness.capture import start_capture
from harness.procs import require_tool, run, wait_until
from harness.gateway import start_h323_gateway

sys.path.insert(0, str(Path(__file__).parent / "h323"))
import sim  # noqa: E402

SCENARIO = Path(__file__).parent / "sipp" / "uac_dtmf_2833.xml"
ROOM = [("h323-ID", "room-2001"), ("dialledDigits", "2001")]


def tshark_rows(pcap: Path, display_filter: str, fields: list[str]) -> list[list[str]]:
    args = ["tshark", "-n", "-r", str(pcap), "-Y", display_filter, "-T", "fields"]
    for f in fields:
        args += ["-e", f]
    out = run(args, timeout=60)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    return [r.split("\t") for r in out.stdout.decode().splitlines() if r.strip()]


def test_sipp_rfc2833_digit_reaches_the_room_as_user_input(gateway_factory, sipp, procs,
                                                           tmp_path):
    require_tool("tshark")
    gw = start_h323_gateway(gateway_factory)
    sipp.pcap_scenario()  # links SIPp's pcaps into its working directory
    listener = sim.Listener()
    pcap = tmp_path / "h225-to-room.pcap"
    cap = start_capture(procs, pcap, f"tcp port {listener.port}")
    ras = sim.Ras(("127.0.0.1", gw.ras_port))
    rtp = sim.Rtp()
    try:
        kind, rcf = ras.rrq(ROOM, cs_port=listener.port)
        assert kind == "registrationConfirm", (kind, rcf)
        time.sleep(0.5)
        uac, stat = sipp.uac(f"127.0.0.1:{gw.sip_port}", calls=1, rate=1, service="2001",
                             scenario=SCENARIO,
                             extra=["-mi", "127.0.0.1", "-mp", str(ports.port(step=4))],
                             timeout=60)
        call = listener.accept(15)
        assert call, f"the gateway never connected to the room\n{gw.log()[-3000:]}"
        assert call.read_setup(10), f"no Setup: {[m['name'] for m in call.messages]}"
        kind, acf = ras.arq(rcf["endpointIdentifier"], "2001", call.call_id, call.conf_id,
                            call.crv, [("dialledDigits", "2001")], answer_call=True)
        assert kind == "admissionConfirm", (kind, acf)
        call.proceeding()
        call.alerting()
        fast_start, gw_rtp = call.fast_start_accept(rtp)
        assert fast_start, f"no PCMU proposals to accept: {call.proposals}"
        call.connect_answer(fast_start)
        rtp.start(gw_rtp, 1000.0, seconds=15)
        # SIPp plays 6 s of audio, its digit, then hangs up: the room keeps
        # reading (and answering) the gateway's tunnelled H.245 until then
        assert call.wait_closed(30), (
            f"room not released: {[m['name'] for m in call.messages]}\n{gw.log()[-3000:]}")
        rc, stats = sipp.finish(uac, stat, timeout=30)
    finally:
        rtp.stop()
        ras.close()
        listener.close()
    time.sleep(0.5)
    cap.stop()

    assert stats.successful == 1 and rc == 0, (
        f"SIPp call failed ({stats.failures()}, exit {rc})\n{sipp.explain(uac)}")
    # one digit however many RTP event reports carried it
    assert call.user_input() == ["1"], (call.user_input(), gw.log()[-3000:])
    uii = [body for k, (s, body) in call.h245_in if k == "indication" and s == "userInput"]
    assert uii[0][0] == "signal", uii
    rel = [m for m in call.messages if m["name"] == "releaseComplete"]
    assert rel and rel[0]["cause"] == 16, [(m["name"], m["cause"]) for m in call.messages]
    assert wait_until(lambda: gw.metric("gateway_calls_active") == 0, timeout=10)

    # the same digit, as tshark reads it from the gateway's H.225
    rows = tshark_rows(pcap, f"tcp.srcport=={listener.port} || tcp.dstport=={listener.port}",
                       ["tcp.dstport", "h245.signalType"])
    to_room = [r for r in rows if r[0] == str(listener.port) and len(r) > 1 and r[1]]
    assert [r[1] for r in to_room] == ["1"], rows
    bad = tshark_rows(pcap, f"tcp.dstport=={listener.port} && "
                      "(_ws.malformed || _ws.expert.severity >= warning)", ["frame.number"])
    assert not bad, f"tshark finds malformed/expert errors in the gateway's H.225: {bad}"
