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


# ------------------------------------------------ gateway units reorganize

import sqlite3  # noqa: E402
import tomllib  # noqa: E402

from harness.gateway import REPO  # noqa: E402

HANOI_2024 = REPO / "dialplans" / "hanoi-2024.toml"
REORG_MAP = REPO / "gateway" / "admin" / "data" / "hanoi-reorganisation-2025.json"
# A pending decision as `--dry-run` prints it: `  KEY=    # [...] in 2024/CODE NAME: one of CODE NAME, ...`
_PENDING = re.compile(r"^  (\S+)=\s+# \[[^\]]*\] in 2024/(\d+) .*?: one of (\d+)", re.M)
_COUNT = re.compile(r"^  ((?:registry|dialplan) \w+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", re.M)


def _hanoi_db(tmp_path):
    db = tmp_path / "gw.db"
    url = f"sqlite://{db}"
    rc, out, err = _gw("dialplan", "import", str(HANOI_2024), "--db", url, cwd=tmp_path)
    assert rc == 0, f"dialplan import exit {rc}\nstdout: {out}\nstderr: {err}"
    return db, url


def _versions(db):
    with sqlite3.connect(db) as c:
        return c.execute("SELECT version, file_name, source_text FROM dialplan_versions ORDER BY version").fetchall()


def _counts(out):
    rows = {m[0]: tuple(int(x) for x in m[1:]) for m in _COUNT.findall(out)}
    assert rows, f"no counts table in:\n{out}"
    return rows


def test_units_reorganize_dry_run_lists_changes_and_decisions(tmp_path):
    db, url = _hanoi_db(tmp_path)
    rc, out, err = _gw("units", "reorganize", "--map", str(REORG_MAP), "--dry-run", "--db", url,
                       cwd=tmp_path, timeout=120)
    assert rc == 0, f"dry run exit {rc}\nstdout: {out[-3000:]}\nstderr: {err}"
    # Merged: Phúc Xá (00001) became part of 00097; a ward split between two is only listed.
    assert "endpoint bp-00001 [dialplan]: 2024/00001 Phường Phúc Xá → 2025/00097" in out, out[:3000]
    pending = _PENDING.findall(out)
    keys = {k for k, _, _ in pending}
    assert "endpoint:bp-00007" in keys and "endpoint:bp-001" in keys, pending[:5]
    assert not re.search(r"endpoint bp-00007 \[", out), "a split ward's endpoint was moved by guess"
    assert len([k for k in keys if k.startswith("endpoint:")]) == 158, len(keys)
    counts = _counts(out)
    assert counts["dialplan endpoints"][:3] == (557, 0, 557), counts
    for what, (b24, b25, bt, a24, a25, at) in counts.items():
        assert bt == at, f"{what}: {bt} before, {at} after"
    assert out.rstrip().endswith("dry run: nothing changed")
    assert len(_versions(db)) == 1, "the dry run stored a dialplan version"


def test_units_reorganize_applies_with_decisions(tmp_path):
    db, url = _hanoi_db(tmp_path)
    base = ["units", "reorganize", "--map", str(REORG_MAP), "--db", url]

    # Without decisions: refused as a whole, naming what waits.
    rc, out, err = _gw(*base, cwd=tmp_path, timeout=120)
    assert rc != 0, f"applied with decisions missing\nstdout: {out[-2000:]}"
    assert "await a decision" in err and "endpoint:bp-001 in 2024/001" in err, err[:2000]
    assert len(_versions(db)) == 1

    # A code that is not one of the split ward's new units: refused, named.
    rc, out, err = _gw(*base, "--assign", "bp-00007=00097", cwd=tmp_path, timeout=120)
    assert rc != 0 and "bp-00007=00097" in err and "became part of 00008, 00025" in err, err
    assert len(_versions(db)) == 1

    # The human decisions: the dry run's lines, filled in (first candidate),
    # bp-001 (district Ba Đình) to the city by --assign instead.
    rc, out, err = _gw(*base, "--dry-run", cwd=tmp_path, timeout=120)
    assert rc == 0, err
    lines = [f"{k}={first}  # was 2024/{old}" for k, old, first in _PENDING.findall(out)
             if k != "endpoint:bp-001"]
    decisions = tmp_path / "decisions.txt"
    decisions.write_text("# test decisions\n" + "\n".join(lines) + "\n")
    rc, out, err = _gw(*base, "--decisions", str(decisions), "--assign", "bp-001=01",
                       cwd=tmp_path, timeout=120)
    assert rc == 0, f"apply exit {rc}\nstdout: {out[-3000:]}\nstderr: {err}"
    assert "applied: committed in one transaction" in out
    counts = _counts(out)
    for what, (b24, b25, bt, a24, a25, at) in counts.items():
        assert bt == at and a24 == 0, f"{what}: before {b24}/{b25}, after {a24}/{a25}"

    versions = _versions(db)
    assert [v for v, _, _ in versions] == [1, 2], versions
    assert versions[1][1].endswith("hanoi-2024.reorganised-2025.toml")
    new = tomllib.loads(versions[1][2])
    assert len(new["unit"]) == 127
    units = {u["code"] for u in new["unit"]}
    eps = {e["id"]: e for e in new["endpoint"]}
    assert len(eps) == 557 and all(e["unit"] in units for e in eps.values())
    assert eps["bp-00001"]["unit"] == "00097" and eps["bp-00001"]["numbers"] == ["300001"]
    assert eps["bp-001"]["unit"] == "01"
    with sqlite3.connect(db) as c:
        actions = dict(c.execute("SELECT action, COUNT(*) FROM adm_audit GROUP BY action").fetchall())
    assert actions.get("dialplan.reorganize") == 1 and actions.get("units.reorganize") == 1, actions

    # Done: a second run finds nothing in the 2024 structure.
    rc, out, err = _gw(*base, "--dry-run", cwd=tmp_path, timeout=120)
    assert rc == 0 and "changes (0)" in out and "not in the 2024 structure" in out, out[-2000:]


def test_units_reorganize_map_with_unknown_code(tmp_path):
    db, url = _hanoi_db(tmp_path)
    bad = tmp_path / "map.json"
    bad.write_text(json.dumps({"rows": [
        {"old_district": 1, "old_ward": 1, "new_ward": 97},
        {"old_district": 1, "old_ward": 4, "new_ward": 99999},
    ]}))
    rc, out, err = _gw("units", "reorganize", "--map", str(bad), "--dry-run", "--db", url,
                       cwd=tmp_path, timeout=120)
    assert rc != 0, out[-2000:]
    assert "row 2: new_ward 99999 is not a unit of the 2025 structure" in err, err
    rc, out, err = _gw("units", "reorganize", "--map", str(tmp_path / "missing.json"), "--db", url,
                       cwd=tmp_path)
    assert rc == 2 and "missing.json" in err, err
