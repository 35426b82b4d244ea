"""The operator's CLI: `gateway dialplan check` and `gateway dialplan route`."""

import json
import re

from harness.gateway import LOOPBACK_DIALPLAN, gateway_bin
from harness.procs import run


def _gw(*args, cwd, timeout=30):
    # Own cwd: the CLI's default --data-dir is ./data, which must not land in the repo.
    out = run([str(gateway_bin()), *args], timeout=timeout, cwd=cwd)
    return out.returncode, out.stdout.decode(errors="replace"), out.stderr.decode(errors="replace")


def _objects(value):
    """Every JSON object nested anywhere in `value`."""
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _objects(v)
    elif isinstance(value, list):
        for v in value:
            yield from _objects(v)


def test_dialplan_check_accepts_loopback(tmp_path):
    rc, out, err = _gw("dialplan", "check", str(LOOPBACK_DIALPLAN), cwd=tmp_path)
    assert rc == 0, f"`gateway dialplan check {LOOPBACK_DIALPLAN}` exit {rc}\nstdout: {out}\nstderr: {err}"


def test_dialplan_check_names_file_and_line(tmp_path):
    lines = LOOPBACK_DIALPLAN.read_text().splitlines(keepends=True)
    # The first endpoint's unit reference, broken to a unit that does not exist.
    in_endpoint, target = False, None
    for i, line in enumerate(lines):
        if line.strip().startswith("[["):
            in_endpoint = line.strip() == "[[endpoint]]"
        if in_endpoint and re.match(r'\s*unit\s*=\s*"', line):
            target = i
            break
    assert target is not None, f"{LOOPBACK_DIALPLAN} has no endpoint with a unit = line to break"
    lines[target] = 'unit = "0099"\n'
    broken = tmp_path / "broken.toml"
    broken.write_text("".join(lines))
    lineno = target + 1

    rc, out, err = _gw("dialplan", "check", str(broken), cwd=tmp_path)
    assert rc != 0, f"check accepted a dialplan with an unknown unit (exit 0)\nstdout: {out}\nstderr: {err}"
    assert f"broken.toml:{lineno}" in err, (
        f"stderr does not point at broken.toml:{lineno} (the bad unit reference):\n{err}")
    assert "0099" in err, f"stderr does not name the unknown unit 0099:\n{err}"


def test_dialplan_check_rejects_toml_syntax_error(tmp_path):
    bad = tmp_path / "syntax.toml"
    bad.write_text(LOOPBACK_DIALPLAN.read_text() + "\n[[endpoint]\nid = 1\n")
    rc, out, err = _gw("dialplan", "check", str(bad), cwd=tmp_path)
    assert rc != 0, "check accepted a file with a TOML syntax error"
    assert "syntax.toml:" in err, f"stderr does not name the file:\n{err}"


def test_dialplan_route_to_endpoint(tmp_path):
    rc, out, err = _gw("dialplan", "route", "--from", "sip:1001@127.0.0.1", "--to", "1002",
                       "--dialplan", str(LOOPBACK_DIALPLAN), cwd=tmp_path)
    assert rc == 0, f"route exit {rc}\nstdout: {out}\nstderr: {err}"
    try:
        decision = json.loads(out)
    except ValueError as e:
        raise AssertionError(f"`gateway dialplan route` did not print JSON ({e}):\n{out}")
    hits = [o for o in _objects(decision)
            if o.get("kind") == "endpoint" and str(o.get("id")) == "1002"]
    assert hits, f"route decision does not target endpoint 1002:\n{json.dumps(decision, indent=2)}"


def test_dialplan_route_anonymous_to_trunk(tmp_path):
    rc, out, err = _gw("dialplan", "route", "--from", "sip:sipp@127.0.0.1", "--to", "5000",
                       "--dialplan", str(LOOPBACK_DIALPLAN), cwd=tmp_path)
    assert rc == 0, f"route exit {rc}\nstdout: {out}\nstderr: {err}"
    decision = json.loads(out)
    hits = [o for o in _objects(decision) if o.get("kind") == "trunk"]
    assert hits and "5070" in json.dumps(hits), (
        f"5000 from 127.0.0.1 should go to the trunk at 127.0.0.1:5070:\n{json.dumps(decision, indent=2)}")
