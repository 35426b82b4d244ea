"""Neighbour gatekeepers in the running gateway, with a fake neighbour
(pycrate): an ARQ for a number the dialplan cannot place is asked of the
neighbour by LRQ while the room is told to wait (RequestInProgress); its
LCF admits the call straight to the address it names, its LRJ or silence
refuses it; an LRQ it does not answer is sent again with the same
requestSeqNum. LRQs from the neighbour are answered for the registered room
and the meeting, and nothing is told to a gatekeeper that is not a
neighbour. A neighbour with a password must sign its LRQs (H.235.1 made by
pycrate + hashlib); our LCF comes back signed."""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from harness import ports

sys.path.insert(0, str(Path(__file__).parent / "h323"))
import sim  # noqa: E402
import sim_ras  # noqa: E402
import h235_vectors as hv  # noqa: E402

ROOM = [("h323-ID", "room-2001"), ("dialledDigits", "2001")]


@pytest.fixture
def neighbour():
    nb = sim_ras.NeighbourGk("127.0.0.1")
    yield nb
    nb.close()


@pytest.fixture
def gw_with_neighbour(gateway_factory, tmp_path, neighbour):
    ras, cs = ports.port(), ports.port()
    cfg = tmp_path / "neighbours.toml"
    cfg.write_text(
        "h323_lrq_timeout_secs = 1\n"
        "[[h323_neighbour]]\n"
        f'address = "127.0.0.1:{neighbour.port}"\n'
        'prefixes = ["#7"]\n'
        'gatekeeper_id = "NB-GK"\n')
    gw = gateway_factory(extra_args=["--config", str(cfg), "--h323-listen", "127.0.0.1",
                                     "--h323-ras-port", str(ras), "--h323-cs-port", str(cs)])
    gw.ras_port, gw.cs_port = ras, cs
    gw.start()
    return gw


def test_arq_located_by_a_neighbour(gw_with_neighbour, neighbour):
    gw = gw_with_neighbour
    room = sim.Ras(("127.0.0.1", gw.ras_port))
    try:
        kind, rcf = room.rrq(ROOM, cs_port=1720)
        assert kind == "registrationConfirm", (kind, rcf)
        eid = rcf["endpointIdentifier"]

        # located: the neighbour answers LCF
        result = {}

        def ask(crv, digits):
            return sim_ras.request_past_progress(
                room, "admissionRequest",
                sim_ras.arq_body(eid, ("dialledDigits", digits), crv, ROOM), timeout=8)

        t = threading.Thread(target=lambda: result.update(r=ask(21, "#7001")))
        t.start()
        lrq, peer = neighbour.next_lrq()
        assert lrq is not None, "no LRQ reached the neighbour"
        assert lrq["destinationInfo"] == [("dialledDigits", "#7001")], lrq
        assert lrq["gatekeeperIdentifier"] == "NB-GK", lrq
        assert lrq["replyAddress"][1]["port"] == gw.ras_port, lrq
        neighbour.lcf(lrq, peer, "127.0.0.1", 5555)
        t.join(10)
        kind, acf, progress = result["r"]
        assert kind == "admissionConfirm", (kind, acf)
        assert acf["destCallSignalAddress"][1]["port"] == 5555, acf
        assert acf["callModel"][0] == "direct", acf
        assert progress and progress[0]["delay"] >= 1000, progress

        # refused by the neighbour
        t = threading.Thread(target=lambda: result.update(r=ask(22, "#7002")))
        t.start()
        lrq, peer = neighbour.next_lrq()
        neighbour.lrj(lrq, peer)
        t.join(10)
        kind, arj, _ = result["r"]
        assert kind == "admissionReject", (kind, arj)
        assert arj["rejectReason"][0] == "calledPartyNotRegistered", arj

        # the neighbour stays silent: refused after h323_lrq_timeout_secs
        kind, arj, progress = ask(23, "#7003")
        assert kind == "admissionReject" and arj["rejectReason"][0] == "calledPartyNotRegistered", arj
        assert progress, "the room was told to wait"
        assert neighbour.next_lrq(timeout=0.5)[0] is not None, "the LRQ was sent"

        # a number outside the neighbour's prefixes is not asked
        kind, arj, progress = ask(24, "#99")
        assert kind == "admissionReject" and not progress, (kind, arj, progress)
        assert neighbour.next_lrq(timeout=0.5)[0] is None
    finally:
        room.close()


def test_lrq_from_neighbour_and_stranger(gw_with_neighbour, neighbour):
    gw = gw_with_neighbour
    gk = ("127.0.0.1", gw.ras_port)
    room = sim.Ras(gk)
    stranger = sim_ras.NeighbourGk("127.0.0.2")
    try:
        kind, _ = room.rrq(ROOM, cs_port=1720)
        assert kind == "registrationConfirm"
        for alias in (("h323-ID", "room-2001"), ("dialledDigits", "8000")):
            kind, lcf = neighbour.locate(gk, alias)
            assert kind == "locationConfirm", (alias, kind, lcf)
            assert lcf["callSignalAddress"][1]["port"] == gw.cs_port, lcf
        kind, lrj = neighbour.locate(gk, ("dialledDigits", "#99"))
        assert kind == "locationReject" and lrj["rejectReason"][0] == "notRegistered", lrj
        kind, lrj = stranger.locate(gk, ("h323-ID", "room-2001"))
        assert kind == "locationReject" and lrj["rejectReason"][0] == "requestDenied", lrj
    finally:
        room.close()
        stranger.close()


@pytest.fixture
def gw_with_guarded_neighbour(gateway_factory, tmp_path, neighbour):
    """A neighbour with a password and a longer wait (3 s), so the gateway
    has time to repeat its LRQs."""
    ras, cs = ports.port(), ports.port()
    cfg = tmp_path / "neighbours.toml"
    cfg.write_text(
        "h323_lrq_timeout_secs = 3\n"
        "[[h323_neighbour]]\n"
        f'address = "127.0.0.1:{neighbour.port}"\n'
        'prefixes = ["#7"]\n'
        'gatekeeper_id = "NB-GK"\n'
        f'password = "{NB_PASSWORD}"\n')
    gw = gateway_factory(extra_args=["--config", str(cfg), "--h323-listen", "127.0.0.1",
                                     "--h323-ras-port", str(ras), "--h323-cs-port", str(cs)])
    gw.ras_port, gw.cs_port = ras, cs
    gw.start()
    return gw


NB_PASSWORD = "nb-Sh4red"


def test_a_lost_lrq_is_sent_again_with_the_same_seq(gw_with_guarded_neighbour, neighbour):
    gw = gw_with_guarded_neighbour
    room = sim.Ras(("127.0.0.1", gw.ras_port))
    try:
        kind, rcf = room.rrq(ROOM, cs_port=1720)
        assert kind == "registrationConfirm", (kind, rcf)
        result = {}
        t = threading.Thread(target=lambda: result.update(r=sim_ras.request_past_progress(
            room, "admissionRequest",
            sim_ras.arq_body(rcf["endpointIdentifier"], ("dialledDigits", "#7010"), 31, ROOM),
            timeout=8)))
        t.start()
        first, _ = neighbour.next_lrq()
        assert first is not None, "no LRQ reached the neighbour"
        # the neighbour "loses" the first one and answers the repeat
        again, peer = neighbour.next_lrq(timeout=2.5)
        assert again is not None, "the LRQ was not sent again"
        assert again["requestSeqNum"] == first["requestSeqNum"], (first, again)
        assert again["destinationInfo"] == first["destinationInfo"]
        neighbour.lcf(again, peer, "127.0.0.1", 5556)
        t.join(10)
        kind, acf, _ = result["r"]
        assert kind == "admissionConfirm", (kind, acf)
        assert acf["destCallSignalAddress"][1]["port"] == 5556, acf
    finally:
        room.close()


def _signed_lrq(nb, alias, password, senders_id="NB-GK", random=1):
    nb.seq += 1
    body = {'requestSeqNum': nb.seq, 'destinationInfo': [alias],
            'replyAddress': sim.ras_ip(nb.host, nb.port),
            'cryptoTokens': [hv.h2351_token(int(time.time()), random, general_id="gateway",
                                            senders_id=senders_id)]}
    return nb.seq, hv.encode_signed('locationRequest', body, password)


def _answer(nb, gk, seq, data, timeout=3.0):
    """Sends `data`; (name, value, raw bytes) of the answer to `seq`."""
    nb.sock.sendto(data, gk)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None, None, None
        nb.sock.settimeout(left)
        try:
            buf, _ = nb.sock.recvfrom(4096)
        except socket.timeout:
            return None, None, None
        kind, val = sim.decode(sim.RAS, buf)
        if val.get('requestSeqNum') == seq:
            return kind, val, buf


def test_a_neighbour_with_a_password_authenticates_its_lrqs(gw_with_guarded_neighbour, neighbour):
    gw = gw_with_guarded_neighbour
    gk = ("127.0.0.1", gw.ras_port)
    room = sim.Ras(gk)
    try:
        kind, _ = room.rrq(ROOM, cs_port=1720)
        assert kind == "registrationConfirm"
        # without a token: refused, and the log names the neighbour and why
        kind, lrj = neighbour.locate(gk, ("h323-ID", "room-2001"))
        assert kind == "locationReject" and lrj["rejectReason"][0] == "securityDenial", (kind, lrj)
        # a token made with another password
        seq, data = _signed_lrq(neighbour, ("h323-ID", "room-2001"), "guessed", random=1)
        kind, lrj, _ = _answer(neighbour, gk, seq, data)
        assert kind == "locationReject" and lrj["rejectReason"][0] == "securityDenial", (kind, lrj)
        # H.235.1 made by pycrate + hashlib with the shared password: LCF,
        # signed back with it (checked with hashlib)
        seq, data = _signed_lrq(neighbour, ("h323-ID", "room-2001"), NB_PASSWORD, random=2)
        kind, lcf, raw = _answer(neighbour, gk, seq, data)
        assert kind == "locationConfirm", (kind, lcf)
        assert lcf["callSignalAddress"][1]["port"] == gw.cs_port, lcf
        tokens = lcf.get("cryptoTokens") or []
        assert tokens and sim_ras.h2351_valid(raw, tokens[0], NB_PASSWORD), lcf
        assert not sim_ras.h2351_valid(raw, tokens[0], "guessed")
        clear = tokens[0][1][1]["hashedVals"]
        assert clear.get("generalID") == "NB-GK" and clear.get("sendersID") == "gateway", clear
    finally:
        room.close()
    log = gw.log()
    assert "H.235 authentication failed" in log, log[-3000:]
    assert f"h323_neighbour 127.0.0.1:{neighbour.port}" in log, log[-3000:]
    assert "no H.235 password token" in log and "hash does not match" in log, log[-3000:]
    assert NB_PASSWORD not in log and "guessed" not in log
