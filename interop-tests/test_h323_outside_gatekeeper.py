"""The gateway registered with an outside gatekeeper (a fake carrier
gatekeeper with pycrate): GRQ and RRQ as a gateway-type endpoint with its
h323-ID, number and prefixes and an MD5 password token that the fake
gatekeeper checks with hashlib; lightweight RRQs before the granted time
to live; registered again after the gatekeeper unregisters it; URQ when
the gateway stops."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from harness import ports

sys.path.insert(0, str(Path(__file__).parent / "h323"))
import sim_ras  # noqa: E402

PASSWORD = "carrier-s3cret"


def test_registers_keeps_alive_recovers_and_unregisters(gateway_factory, tmp_path):
    carrier = sim_ras.OutsideGk(ttl=8)
    try:
        ras, cs = ports.port(), ports.port()
        cfg = tmp_path / "outside.toml"
        cfg.write_text(
            "[h323_outside_gatekeeper]\n"
            f'address = "127.0.0.1:{carrier.port}"\n'
            'gatekeeper_id = "CARRIER-GK"\n'
            'h323_ids = ["city-gateway"]\n'
            'numbers = ["8400"]\n'
            'prefixes = ["84", "0243"]\n'
            "ttl_secs = 60\n"
            f'password = "{PASSWORD}"\n')
        gw = gateway_factory(extra_args=["--config", str(cfg), "--h323-listen", "127.0.0.1",
                                         "--h323-ras-port", str(ras), "--h323-cs-port", str(cs)])
        gw.start()

        kind, rrq = carrier.serve(lambda k, v: k == "registrationRequest" and not v["keepAlive"])
        assert kind == "registrationRequest", carrier.seen
        grq = next(v for k, v in carrier.seen if k == "gatekeeperRequest")
        assert grq["gatekeeperIdentifier"] == "CARRIER-GK"
        assert grq["rasAddress"][1]["port"] == ras
        assert rrq["gatekeeperIdentifier"] == "CARRIER-GK"
        assert sorted(a[1] for a in rrq["terminalAlias"]) == ["8400", "city-gateway"], rrq
        assert rrq["callSignalAddress"][0][1]["port"] == cs
        assert rrq["timeToLive"] == 60
        protocols = rrq["terminalType"]["gateway"]["protocol"]
        prefixes = {p[1]["supportedPrefixes"][0]["prefix"][1] for p in protocols}
        assert prefixes == {"84"} or prefixes <= {"84", "0243"}, protocols
        all_prefixes = [x["prefix"][1] for p in protocols for x in p[1]["supportedPrefixes"]]
        assert sorted(set(all_prefixes)) == ["0243", "84"], protocols
        tokens = rrq["cryptoTokens"]
        assert any(sim_ras.md5_token_valid(t, PASSWORD) for t in tokens), tokens
        assert not any(sim_ras.md5_token_valid(t, "wrong") for t in tokens)
        assert abs(tokens[0][1]["timeStamp"] - time.time()) < 60

        # the lightweight RRQ comes before the granted 8 s run out
        t0 = time.monotonic()
        kind, ka = carrier.serve(lambda k, v: k == "registrationRequest" and v["keepAlive"])
        waited = time.monotonic() - t0
        assert kind == "registrationRequest", carrier.seen
        assert ka["endpointIdentifier"] == "CARRIER-GK-1"
        assert 3 < waited < 8, waited
        assert any(sim_ras.md5_token_valid(t, PASSWORD) for t in ka["cryptoTokens"])

        # the carrier unregisters the gateway: UCF, then a new registration
        carrier.unregister("CARRIER-GK-1")
        kind, again = carrier.serve(lambda k, v: k == "registrationRequest" and not v["keepAlive"])
        assert kind == "registrationRequest", carrier.seen
        assert any(k == "unregistrationConfirm" for k, _ in carrier.seen), carrier.seen

        # stopping the gateway unregisters it
        before = len(carrier.seen)
        gw.stop()
        kind, urq = carrier.serve(lambda k, v: k == "unregistrationRequest", timeout=5)
        assert kind == "unregistrationRequest", carrier.seen[before:]
        assert urq["endpointIdentifier"] == "CARRIER-GK-2", urq
        log = gw.log()
        assert "registered with the outside H.323 gatekeeper" in log
        assert "registration with the outside H.323 gatekeeper lost" in log
        assert "unregistered from the outside H.323 gatekeeper" in log
        assert PASSWORD not in log
    finally:
        carrier.close()


def test_hmac_when_the_gatekeeper_asks_for_it(gateway_factory, tmp_path):
    carrier = sim_ras.OutsideGk(ttl=30, mode_oid=sim_ras.OID_U)
    try:
        cfg = tmp_path / "outside.toml"
        cfg.write_text(
            "[h323_outside_gatekeeper]\n"
            f'address = "127.0.0.1:{carrier.port}"\n'
            'h323_ids = ["city-gateway"]\n'
            f'password = "{PASSWORD}"\n')
        gw = gateway_factory(extra_args=["--config", str(cfg), "--h323-listen", "127.0.0.1",
                                         "--h323-ras-port", str(ports.port()),
                                         "--h323-cs-port", str(ports.port())])
        gw.start()
        kind, rrq = carrier.serve(lambda k, v: k == "registrationRequest")
        assert kind == "registrationRequest", carrier.seen
        grq = next(v for k, v in carrier.seen if k == "gatekeeperRequest")
        assert grq["authenticationCapability"] == [("pwdHash", 0)], grq
        raw = carrier.raw[-1]
        tokens = rrq["cryptoTokens"]
        assert tokens[0][1][1]["hashedVals"]["generalID"] == "CARRIER-GK", tokens
        assert sim_ras.h2351_valid(raw, tokens[0], PASSWORD), tokens
        assert not sim_ras.h2351_valid(raw, tokens[0], "wrong")
    finally:
        carrier.close()
