"""The gateway's H.323 gatekeeper (RAS on UDP) driven by the project's
H.323 endpoint simulator (pycrate encoder): discovery, registration of the
loopback dialplan's room 2001, refusal of an unknown alias, admission of a
call to a meeting and refusal of an unknown number, disengage,
unregistration. A pcap of the RAS exchange must dissect in tshark without
malformed packets or expert errors."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from harness import ports
from harness.capture import start_capture
from harness.procs import require_tool, run

sys.path.insert(0, str(Path(__file__).parent / "h323"))
import sim  # noqa: E402

ROOM = [("h323-ID", "room-2001"), ("dialledDigits", "2001")]


def h323_args(ras: int, cs: int) -> list[str]:
    return ["--h323-listen", "127.0.0.1", "--h323-ras-port", str(ras), "--h323-cs-port", str(cs)]


@pytest.fixture
def h323_gateway(gateway_factory):
    ras, cs = ports.port(), ports.port()
    gw = gateway_factory(extra_args=h323_args(ras, cs))
    gw.ras_port, gw.cs_port = ras, cs
    gw.start()
    return gw


def test_register_admit_unregister(h323_gateway, procs, tmp_path):
    gw = h323_gateway
    require_tool("tshark")
    pcap = tmp_path / "ras.pcap"
    cap = start_capture(procs, pcap, f"udp port {gw.ras_port}")
    time.sleep(1)
    ras = sim.Ras(("127.0.0.1", gw.ras_port))
    try:
        kind, gcf = ras.grq(aliases=ROOM)
        assert kind == "gatekeeperConfirm", (kind, gcf)
        assert gcf["gatekeeperIdentifier"] == "gateway"
        assert gcf["rasAddress"][1]["port"] == gw.ras_port

        # an alias the dialplan does not know: RRJ invalidAlias
        kind, rrj = ras.rrq([("h323-ID", "not-in-dialplan")], cs_port=1720)
        assert kind == "registrationReject", (kind, rrj)
        assert rrj["rejectReason"][0] == "invalidAlias", rrj
        # a SIP endpoint's number is not an H.323 alias
        kind, rrj = ras.rrq([("dialledDigits", "1001")], cs_port=1720)
        assert kind == "registrationReject" and rrj["rejectReason"][0] == "invalidAlias", rrj

        kind, rcf = ras.rrq(ROOM, cs_port=1720)
        assert kind == "registrationConfirm", (kind, rcf)
        eid = rcf["endpointIdentifier"]
        assert rcf["callSignalAddress"][0][1]["port"] == gw.cs_port
        assert sorted(a[1] for a in rcf["terminalAlias"]) == ["2001", "room-2001"]

        # keep-alive refreshes the same registration
        kind, rcf2 = ras.rrq(None, cs_port=1720, keep_alive=True, endpoint_id=eid)
        assert kind == "registrationConfirm", (kind, rcf2)

        call_id, conf_id = bytes(range(16)), bytes(range(16, 32))
        kind, acf = ras.arq(eid, "8000", call_id, conf_id, 7, ROOM)
        assert kind == "admissionConfirm", (kind, acf)
        assert acf["callModel"][0] == "gatekeeperRouted"
        assert acf["destCallSignalAddress"][1]["port"] == gw.cs_port

        # the loopback dialplan sends any other digits to its trunk, so
        # the unknown number is one no rule takes
        kind, arj = ras.arq(eid, "#9", call_id, conf_id, 9, ROOM)
        assert kind == "admissionReject", (kind, arj)
        assert arj["rejectReason"][0] == "calledPartyNotRegistered", arj

        kind, dcf = ras.drq(eid, call_id, conf_id, 7)
        assert kind == "disengageConfirm", (kind, dcf)

        kind, ucf = ras.urq(eid, 1720)
        assert kind == "unregistrationConfirm", (kind, ucf)
        # no longer registered: admission refused
        kind, arj = ras.arq(eid, "8000", call_id, conf_id, 10, ROOM)
        assert kind == "admissionReject" and arj["rejectReason"][0] == "callerNotRegistered", arj

        # a datagram that is not RAS is dropped, and the gatekeeper stays up
        ras.send_raw(b"\xff\x00garbage")
        kind, gcf = ras.grq()
        assert kind == "gatekeeperConfirm"
    finally:
        ras.close()
    log = gw.log()
    assert "H.323 endpoint registered" in log and "endpoint=2001" in log, log[-3000:]
    assert "H.323 registration refused (RRJ)" in log

    time.sleep(1)
    cap.stop()
    out = run(["tshark", "-n", "-r", str(pcap), "-d", f"udp.port=={gw.ras_port},h225",
               "-T", "fields", "-e", "h225.RasMessage"], timeout=60)
    kinds = [x for x in out.stdout.decode().split() if x.strip()]
    # requests and answers both dissected as RAS (numbers: the CHOICE index)
    assert len(kinds) >= 20, f"tshark saw {len(kinds)} RAS messages: {kinds}"
    expert = run(["tshark", "-n", "-r", str(pcap), "-d", f"udp.port=={gw.ras_port},h225",
                  "-Y", f"udp.srcport=={gw.ras_port} && (_ws.malformed || _ws.expert.severity >= warning)"],
                 timeout=60)
    bad = expert.stdout.decode().strip()
    assert not bad, f"tshark finds malformed/expert errors in the gateway's RAS:\n{bad}"


def test_unvetted_endpoint_gets_security_denial(gateway_factory, tmp_path):
    plan = tmp_path / "dialplan.toml"
    text = (Path(__file__).resolve().parents[1] / "dialplans" / "loopback.toml").read_text()
    unvetted = text.replace('h323_id = ["room-2001"]\nvetted = true', 'h323_id = ["room-2001"]\nvetted = false')
    assert unvetted != text
    plan.write_text(unvetted)
    ras_port, cs_port = ports.port(), ports.port()
    gw = gateway_factory(dialplan=plan, extra_args=h323_args(ras_port, cs_port))
    gw.start()
    ras = sim.Ras(("127.0.0.1", ras_port))
    try:
        kind, rrj = ras.rrq(ROOM, cs_port=1720)
        assert kind == "registrationReject", (kind, rrj)
        assert rrj["rejectReason"][0] == "securityDenial", rrj
    finally:
        ras.close()
