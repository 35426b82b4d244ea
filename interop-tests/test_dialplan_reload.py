"""SIGHUP reloads the dialplan: an endpoint added to the file can register
afterwards, and a broken file is refused while the running dialplan stays."""

import json
import signal
import sqlite3
import time

from harness.gateway import LOOPBACK_DIALPLAN
from harness.sipua import UdpUA


def _register_status(gateway, user, password):
    ua = UdpUA(user, password, ("127.0.0.1", gateway.sip_port))
    try:
        resp = ua.register(expires=600)
        return resp.status if resp is not None else None
    finally:
        ua.close()


def _hup_and_wait(gateway, needle, timeout=10.0):
    before = gateway.log_path.read_text(errors="replace").count(needle)
    gateway.proc.popen.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gateway.log_path.read_text(errors="replace").count(needle) > before:
            return
        time.sleep(0.1)
    raise AssertionError(f"no {needle!r} in the gateway log within {timeout}s of SIGHUP")


def test_sighup_reloads_the_dialplan(gateway_factory, tmp_path):
    dialplan = tmp_path / "dialplan.toml"
    text = LOOPBACK_DIALPLAN.read_text()
    dialplan.write_text(text)
    gateway = gateway_factory(dialplan=dialplan)
    gateway.start()

    # 1004 does not exist yet: its REGISTER is refused outright.
    assert _register_status(gateway, "1004", "pass1004") == 404

    added = text + (
        '\n[[endpoint]]\nid = "1004"\nunit = "01"\npassword = "pass1004"\n'
        'numbers = ["1004"]\nvetted = true\n'
    )
    dialplan.write_text(added)
    _hup_and_wait(gateway, "dialplan reloaded")
    assert _register_status(gateway, "1004", "pass1004") == 200

    # Both versions (the start's and the SIGHUP's) are in the audit log,
    # by the file they came from.
    db = sqlite3.connect(str(gateway.data_dir / "gw.db"))
    try:
        rows = db.execute(
            "SELECT actor, after_json FROM adm_audit WHERE action = 'dialplan.import' ORDER BY id"
        ).fetchall()
    finally:
        db.close()
    assert [actor for actor, _ in rows] == [f"file:{dialplan}"] * 2, rows
    assert [json.loads(after)["version"] for _, after in rows] == [1, 2], rows

    # A broken file is refused; 1004 keeps working under the running dialplan.
    dialplan.write_text(added + '\n[[endpoint]]\nid = "1004"\nunit = "no-such-unit"\npassword = "x"\n')
    _hup_and_wait(gateway, "dialplan reload failed")
    log = gateway.log_path.read_text(errors="replace")
    assert "no-such-unit" in log, "the refusal should name the bad value"
    assert _register_status(gateway, "1004", "pass1004") == 200
    assert gateway.healthz() == 200
