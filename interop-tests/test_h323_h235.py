"""H.235 password authentication of RAS in the running gateway: the
loopback dialplan's room 2001 given a password registers and calls only
with valid tokens made by the simulator (pycrate + hashlib, see
h323/h235_vectors.py): the MD5 password hash (cryptoEPPwdHash) as Polycom
and Cisco send it, and H.235.1 HMAC-SHA1-96 over the whole message. Wrong
passwords, missing tokens and clocks far off are refused with
securityDenial and logged at warn without the password. The GCF that
tells the room which procedure to use is decoded by pycrate and dissected
by tshark without errors."""

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
import sim_ras  # noqa: E402

ROOM = [("h323-ID", "room-2001"), ("dialledDigits", "2001")]
PASSWORD = "Room2001-s3cret"


def h323_args(ras: int, cs: int) -> list[str]:
    return ["--h323-listen", "127.0.0.1", "--h323-ras-port", str(ras), "--h323-cs-port", str(cs)]


@pytest.fixture
def secured_gateway(gateway_factory, tmp_path):
    plan = tmp_path / "dialplan.toml"
    text = (Path(__file__).resolve().parents[1] / "dialplans" / "loopback.toml").read_text()
    with_password = text.replace('h323_id = ["room-2001"]\n',
                                 f'h323_id = ["room-2001"]\npassword = "{PASSWORD}"\n')
    assert with_password != text
    plan.write_text(with_password)
    ras, cs = ports.port(), ports.port()
    gw = gateway_factory(dialplan=plan, extra_args=h323_args(ras, cs))
    gw.ras_port, gw.cs_port = ras, cs
    gw.start()
    return gw


def call(ras, eid, crv):
    return ras.arq(eid, "8000", bytes([crv]) * 16, bytes([crv + 1]) * 16, crv, ROOM)


def test_md5_password_room(secured_gateway, procs, tmp_path):
    gw = secured_gateway
    require_tool("tshark")
    pcap = tmp_path / "ras.pcap"
    cap = start_capture(procs, pcap, f"udp port {gw.ras_port}")
    time.sleep(1)
    gk = ("127.0.0.1", gw.ras_port)
    room = sim_ras.AuthRas(gk, "room-2001", PASSWORD, method="md5")
    wrong = sim_ras.AuthRas(gk, "room-2001", "guessed", method="md5")
    bare = sim_ras.AuthRas(gk, "room-2001", PASSWORD, method=None)
    try:
        # discovery offering pwdHash with MD5: the GCF selects it
        kind, gcf = room.grq_offering(ROOM, [sim_ras.OID_MD5])
        assert kind == "gatekeeperConfirm", (kind, gcf)
        assert gcf["authenticationMode"][0] == "pwdHash", gcf
        assert tuple(gcf["algorithmOID"]) == sim_ras.OID_MD5, gcf

        for ep, why in ((bare, "no token"), (wrong, "wrong password")):
            kind, rrj = ep.rrq(ROOM, cs_port=1720)
            assert kind == "registrationReject", (why, kind, rrj)
            assert rrj["rejectReason"][0] == "securityDenial", (why, rrj)
        # a room whose clock is an hour off
        room.clock_skew = -3600
        kind, rrj = room.rrq(ROOM, cs_port=1720)
        assert kind == "registrationReject" and rrj["rejectReason"][0] == "securityDenial", rrj
        room.clock_skew = 0

        kind, rcf = room.rrq(ROOM, cs_port=1720)
        assert kind == "registrationConfirm", (kind, rcf)
        eid = rcf["endpointIdentifier"]
        kind, rcf2 = room.rrq(None, cs_port=1720, keep_alive=True, endpoint_id=eid)
        assert kind == "registrationConfirm", (kind, rcf2)

        kind, acf = call(room, eid, 7)
        assert kind == "admissionConfirm", (kind, acf)
        # the same room's ARQ without a token (another socket, same host)
        bare.endpoint_id = eid
        kind, arj = call(bare, eid, 9)
        assert kind == "admissionReject" and arj["rejectReason"][0] == "securityDenial", arj

        kind, ucf = room.urq(eid, 1720)
        assert kind == "unregistrationConfirm", (kind, ucf)
    finally:
        for ep in (room, wrong, bare):
            ep.close()

    log = gw.log()
    assert "H.235 authentication failed" in log, log[-3000:]
    assert "hash does not match" in log and "off our clock" in log, log[-3000:]
    assert "no H.235 password token" in log, log[-3000:]
    assert PASSWORD not in log and "guessed" not in log
    assert "H.323 endpoint registered" in log and "endpoint=2001" in log

    time.sleep(1)
    cap.stop()
    expert = run(["tshark", "-n", "-r", str(pcap), "-d", f"udp.port=={gw.ras_port},h225",
                  "-Y", f"udp.srcport=={gw.ras_port} && (_ws.malformed || _ws.expert.severity >= warning)"],
                 timeout=60)
    bad = expert.stdout.decode().strip()
    assert not bad, f"tshark finds malformed/expert errors in the gateway's RAS:\n{bad}"
    modes = run(["tshark", "-n", "-r", str(pcap), "-d", f"udp.port=={gw.ras_port},h225",
                 "-Y", "h225.authenticationMode", "-T", "fields", "-e", "h225.algorithmOID"],
                timeout=60)
    assert "1.2.840.113549.2.5" in modes.stdout.decode(), modes.stdout.decode()


class Recording:
    """The room's socket, keeping every datagram it receives."""

    def __init__(self, sock):
        self.sock = sock
        self.received = []

    def recvfrom(self, n):
        buf, peer = self.sock.recvfrom(n)
        self.received.append(buf)
        return buf, peer

    def __getattr__(self, name):
        return getattr(self.sock, name)


def signed_by_gateway(raw: bytes, eid: str) -> bool:
    """The reply carries an H.235.1 token for `eid` from the gatekeeper
    whose HMAC (hashlib) checks with the room's password, and only with it."""
    kind, val = sim.decode(sim.RAS, raw)
    tokens = val.get("cryptoTokens") or []
    if not tokens:
        return False
    clear = tokens[0][1][1]["hashedVals"]
    return (clear.get("generalID") == eid and clear.get("sendersID") == "gateway"
            and abs(clear["timeStamp"] - time.time()) < 60
            and sim_ras.h2351_valid(raw, tokens[0], PASSWORD)
            and not sim_ras.h2351_valid(raw, tokens[0], "guessed"))


def test_h2351_room(secured_gateway):
    gw = secured_gateway
    gk = ("127.0.0.1", gw.ras_port)
    room = sim_ras.AuthRas(gk, "room-2001", PASSWORD, method="h2351")
    room.sock = Recording(room.sock)
    wrong = sim_ras.AuthRas(gk, "room-2001", "guessed", method="h2351")
    try:
        kind, gcf = room.grq_offering(ROOM, [sim_ras.OID_MD5, sim_ras.OID_U])
        assert kind == "gatekeeperConfirm", (kind, gcf)
        assert tuple(gcf["algorithmOID"]) == sim_ras.OID_U, gcf

        kind, rrj = wrong.rrq(ROOM, cs_port=1720)
        assert kind == "registrationReject" and rrj["rejectReason"][0] == "securityDenial", rrj
        kind, rcf = room.rrq(ROOM, cs_port=1720)
        assert kind == "registrationConfirm", (kind, rcf)
        eid = rcf["endpointIdentifier"]
        kind, acf = call(room, eid, 11)
        assert kind == "admissionConfirm", (kind, acf)
        kind, dcf = room.drq(eid, bytes([11]) * 16, bytes([12]) * 16, 11)
        assert kind == "disengageConfirm", (kind, dcf)
        # the gatekeeper signs its replies the same way, so the room can
        # check them: RCF, ACF and DCF (the GCF answers an unsigned GRQ)
        by_kind = {sim.decode(sim.RAS, b)[0]: b for b in room.sock.received}
        for name in ("registrationConfirm", "admissionConfirm", "disengageConfirm"):
            assert signed_by_gateway(by_kind[name], eid), name
        assert not sim.decode(sim.RAS, by_kind["gatekeeperConfirm"])[1].get("cryptoTokens")
    finally:
        room.close()
        wrong.close()
    assert "H.235 authentication failed" in gw.log()
    assert PASSWORD not in gw.log()
