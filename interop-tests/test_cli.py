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


# ------------------------------------- administration: units, endpoints, meetings, vetting

from harness.gateway import LOOPBACK_DIALPLAN as _LOOPBACK  # noqa: E402


def _admin_db(tmp_path):
    """A database with the loopback dialplan (its meetings) and the city's units."""
    db = tmp_path / "adm.db"
    url = f"sqlite://{db}"
    rc, out, err = _gw("dialplan", "import", str(_LOOPBACK), "--db", url, cwd=tmp_path)
    assert rc == 0, f"dialplan import exit {rc}\nstdout: {out}\nstderr: {err}"
    return db, url


def _gwj(*args, cwd, env=None, stdin=None):
    """A `--json` command: (exit code, parsed JSON or None, stderr)."""
    out = run([str(gateway_bin()), *args, "--json"], timeout=60, cwd=cwd, env=env,
              input_bytes=stdin)
    text = out.stdout.decode(errors="replace")
    try:
        value = json.loads(text) if out.returncode == 0 else None
    except ValueError:
        raise AssertionError(f"`gateway {' '.join(args)} --json` did not print JSON:\n{text}")
    return out.returncode, value, out.stderr.decode(errors="replace")


def _audit(db, object_id):
    with sqlite3.connect(db) as c:
        return c.execute("SELECT actor, actor_role, action, before_json, after_json FROM adm_audit "
                         "WHERE object_id = ? ORDER BY id", (object_id,)).fetchall()


def test_dialplan_import_is_audited_and_export_gives_it_back(tmp_path):
    db, url = _admin_db(tmp_path)
    dbf = ["--db", url]
    with sqlite3.connect(db) as c:
        rows = c.execute("SELECT actor, actor_role, object_kind, object_id FROM adm_audit "
                         "WHERE action = 'dialplan.import'").fetchall()
    assert len(rows) == 1, rows
    actor, role, kind, version = rows[0]
    assert actor.startswith("cli:") and role == "city-admin" and kind == "dialplan", rows[0]

    # The same text again: no new version, no new audit row.
    rc, out, err = _gw("dialplan", "import", str(_LOOPBACK), *dbf, cwd=tmp_path)
    assert rc == 0 and f"already the current version {version}; nothing written" in out, (rc, out, err)
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT COUNT(*) FROM adm_audit WHERE action = 'dialplan.import'").fetchone()[0] == 1

    # Export: byte for byte what was imported, to stdout or to a file.
    want = _LOOPBACK.read_bytes()
    out = run([str(gateway_bin()), "dialplan", "export", *dbf], timeout=30, cwd=tmp_path)
    assert out.returncode == 0 and out.stdout == want, out.stderr
    target = tmp_path / "exported.toml"
    rc, out, err = _gw("dialplan", "export", "--version", version, "--out", str(target), *dbf, cwd=tmp_path)
    assert rc == 0 and f"version {version}" in out, (rc, out, err)
    assert target.read_bytes() == want
    rc, out, err = _gw("dialplan", "check", str(target), cwd=tmp_path)
    assert rc == 0, err
    rc, out, err = _gw("dialplan", "export", "--version", "99", *dbf, cwd=tmp_path)
    assert rc == 1 and "dialplan version 99 not found" in err, (rc, err)
    rc, out, err = _gw("dialplan", "export", "--db", f"sqlite://{tmp_path / 'empty.db'}", cwd=tmp_path)
    assert rc == 1 and "no dialplan has been imported yet" in err, (rc, err)


def test_admin_families_on_the_database(tmp_path):
    db, url = _admin_db(tmp_path)
    dbf = ["--db", url]

    # Units: one district's subtree of the 2024 structure, then one unit.
    rc, units, err = _gwj("units", "list", "--structure", "2024", "--under", "001", *dbf, cwd=tmp_path)
    assert rc == 0, err
    assert units[0]["code"] == "001" and units[0]["depth"] == 0, units[:2]
    assert len(units) > 5 and all(u["structure"] == "2024" for u in units)
    assert {u["parent_code"] for u in units[1:]} == {"001"}, "a ward of another district in 001's subtree"
    rc, out, err = _gw("units", "list", "--structure", "2024", "--under", "001", *dbf, cwd=tmp_path)
    assert rc == 0 and "Phường Phúc Xá" in out and f"{len(units)} unit(s)" in out, out
    rc, out, err = _gw("units", "show", "00097", *dbf, cwd=tmp_path)
    assert rc == 0 and "Phường Hồng Hà" in out and "2025/01" in out, out
    rc, out, err = _gw("units", "show", "99999", *dbf, cwd=tmp_path)
    assert rc == 1 and "unit 2025/99999 not found" in err, (rc, err)

    # Endpoints: created (pending), listed, shown with its contacts.
    rc, out, err = _gw("endpoints", "create", "ep-cli-1", "--unit", "00097", "--number", "7001",
                       "--office-lead", "Nguyễn Văn A", "--office-lead-phone", "0912345678",
                       *dbf, cwd=tmp_path)
    assert rc == 0 and "vetting pending" in out, (rc, out, err)
    rc, eps, err = _gwj("endpoints", "list", "--state", "pending", "--unit", "00097", *dbf, cwd=tmp_path)
    assert rc == 0 and [e["id"] for e in eps] == ["ep-cli-1"], (eps, err)
    rc, eps, err = _gwj("endpoints", "list", "--state", "approved", *dbf, cwd=tmp_path)
    assert rc == 0 and eps == [], eps
    rc, out, err = _gw("endpoints", "show", "ep-cli-1", *dbf, cwd=tmp_path)
    assert rc == 0 and "Nguyễn Văn A, 0912345678" in out and "7001" in out, out

    # An update is audited as the CLI's actor, with before and after.
    rc, out, err = _gw("endpoints", "update", "ep-cli-1", "--display", "Phòng họp",
                       "--technical-officer", "Trần Thị B", *dbf, cwd=tmp_path)
    assert rc == 0 and "updated by cli:" in out, (rc, out, err)
    rows = _audit(db, "ep-cli-1")
    assert [r[2] for r in rows] == ["endpoint.create", "endpoint.update"], rows
    actor, role, _, before, after = rows[-1]
    assert actor.startswith("cli:") and role == "city-admin", rows[-1]
    assert "Phòng họp" in after and "Phòng họp" not in (before or ""), (before, after)
    rc, ep, err = _gwj("endpoints", "show", "ep-cli-1", *dbf, cwd=tmp_path)
    assert ep["display"] == "Phòng họp"
    assert ep["contacts"]["technical_officer"]["name"] == "Trần Thị B", ep["contacts"]

    # Refused: exit 1, the field named, nothing written.
    rc, out, err = _gw("endpoints", "update", "ep-cli-1", "--maintenance-due", "2027-13-45",
                       *dbf, cwd=tmp_path)
    assert rc == 1 and "invalid maintenance_due" in err and "2027-13-45" in err, (rc, err)
    rc, out, err = _gw("endpoints", "create", "ep-cli-2", "--unit", "00097", "--number", "abc",
                       *dbf, cwd=tmp_path)
    assert rc == 1 and "invalid numbers" in err, (rc, err)
    rc, out, err = _gw("endpoints", "create", "ep-cli-2", "--unit", "00097", "--number", "7001",
                       *dbf, cwd=tmp_path)
    assert rc == 1 and "7001" in err and "ep-cli-2 not created" in err, (rc, err)
    assert len(_audit(db, "ep-cli-1")) == 2 and _audit(db, "ep-cli-2") == []
    # Bad usage: exit 2.
    rc, out, err = _gw("endpoints", "list", "--state", "maybe", *dbf, cwd=tmp_path)
    assert rc == 2 and "maybe" in err, (rc, err)
    rc, out, err = _gw("endpoints", "create", "ep-cli-3", *dbf, cwd=tmp_path)
    assert rc == 2 and "--unit" in err, (rc, err)

    # Credentials from stdin (only HA1 forms kept), then delete: audited with what was there.
    rc, out, err = _gw_in(["endpoints", "create", "ep-cli-9", "--unit", "00097", "--protocol", "sip",
                           "--sip-password-stdin", *dbf], tmp_path, b"sip-secret-9\n")
    assert rc == 0, (rc, out, err)
    rc, ep, err = _gwj("endpoints", "show", "ep-cli-9", *dbf, cwd=tmp_path)
    assert ep["credentials"] and ep["credentials"]["forms"], ep
    assert "sip-secret-9" not in json.dumps(ep)
    rc, out, err = _gw("endpoints", "delete", "ep-cli-9", *dbf, cwd=tmp_path)
    assert rc == 0 and "endpoint ep-cli-9 deleted" in out, (rc, out, err)
    assert [r[2] for r in _audit(db, "ep-cli-9")] == ["endpoint.create", "endpoint.delete"]
    rc, out, err = _gw("endpoints", "show", "ep-cli-9", *dbf, cwd=tmp_path)
    assert rc == 1 and "ep-cli-9" in err, (rc, err)

    # Meetings of the current dialplan.
    rc, ms, err = _gwj("meetings", "list", "--unit", "01", *dbf, cwd=tmp_path)
    assert rc == 0 and {m["number"] for m in ms} == {"8000", "8001", "8002"}, (ms, err)
    rc, ms, err = _gwj("meetings", "list", "--unit", "00097", *dbf, cwd=tmp_path)
    assert rc == 0 and ms == [], ms
    rc, out, err = _gw("meetings", "show", "meeting-8000", *dbf, cwd=tmp_path)
    assert rc == 0 and "Loopback meeting" in out and "8000" in out, out
    rc, out, err = _gw("meetings", "show", "8999", *dbf, cwd=tmp_path)
    assert rc == 1 and "meeting 8999 not found" in err, (rc, err)

    # Vetting: queue, decision (audited), the endpoint's vetting.
    rc, out, err = _gw("vetting", "list", *dbf, cwd=tmp_path)
    assert rc == 0 and out.startswith("1 endpoint(s) pending vetting") and "ep-cli-1" in out, out
    rc, out, err = _gw("vetting", "approve", "ep-cli-1", "--reason", "kiểm tra tại chỗ", *dbf, cwd=tmp_path)
    assert rc == 0 and "endpoint ep-cli-1 approved by cli:" in out, (rc, out, err)
    rc, out, err = _gw("vetting", "show", "ep-cli-1", *dbf, cwd=tmp_path)
    assert rc == 0 and "approved" in out and "kiểm tra tại chỗ" in out, out
    assert _audit(db, "ep-cli-1")[-1][1] == "security-reviewer"
    rc, out, err = _gw("vetting", "suspend", "ep-cli-1", "--reason", " ", *dbf, cwd=tmp_path)
    assert rc == 1 and "invalid reason" in err, (rc, err)


def test_admin_commands_through_the_api_match_the_database(gateway_factory, tmp_path):
    gw = gateway_factory()
    out = run([str(gateway_bin()), "users", "add", "cli-admin", "--role", "city-admin",
               "--db", gw.db_url], timeout=60, cwd=tmp_path, input_bytes=b"Mat-khau-2025\n")
    assert out.returncode == 0, out.stderr
    gw.start()
    db = gw.data_dir / "gw.db"
    dbf = ["--db", gw.db_url]
    api = ["--api", f"http://127.0.0.1:{gw.admin_port}", "--user", "cli-admin"]
    env = {"GATEWAY_PASSWORD": "Mat-khau-2025"}

    for cmd in (["units", "list", "--structure", "2024", "--under", "001"],
                ["units", "list", "--structure", "2025"],
                ["units", "show", "00097"],
                ["endpoints", "list"],
                ["endpoints", "list", "--unit", "01", "--state", "approved"],
                ["endpoints", "show", "1001"],
                ["meetings", "list", "--unit", "01"],
                ["meetings", "show", "8001"],
                ["vetting", "list"],
                ["vetting", "show", "1002"]):
        rc, direct, err = _gwj(*cmd, *dbf, cwd=tmp_path)
        assert rc == 0, f"{cmd} on the database: exit {rc}: {err}"
        rc, remote, err = _gwj(*cmd, *api, cwd=tmp_path, env=env)
        assert rc == 0, f"{cmd} through the API: exit {rc}: {err}"
        assert remote == direct, f"{cmd}: the API and the database answer differently"
    rc, eps, err = _gwj("endpoints", "list", *dbf, cwd=tmp_path)
    assert {"1001", "1002", "1003"} <= {e["id"] for e in eps}, eps

    # An update through the API (password on stdin): audited as the API user.
    rc, out, err = _gw_in(["endpoints", "update", "1001", "--office-lead", "Lê Văn C", *api],
                          tmp_path, b"Mat-khau-2025\n")
    assert rc == 0 and "updated by cli-admin" in out, (rc, out, err)
    actor, role, action, _, after = _audit(db, "1001")[-1]
    assert (actor, role, action) == ("cli-admin", "city-admin", "endpoint.update"), (actor, role, action)
    assert "Lê Văn C" in after
    rc, ep, err = _gwj("endpoints", "show", "1001", *dbf, cwd=tmp_path)
    assert ep["contacts"]["office_lead"]["name"] == "Lê Văn C", ep["contacts"]

    # The same refusal, with the same message and exit code, both ways.
    bad = ["endpoints", "update", "1001", "--maintenance-due", "2027-13-01"]
    d = _gw_in([*bad, *dbf], tmp_path, None)
    r = _gw_in([*bad, *api], tmp_path, b"Mat-khau-2025\n")
    assert d[0] == r[0] == 1 and d[2] == r[2] and "invalid maintenance_due" in d[2], (d, r)
    d = _gw_in(["endpoints", "show", "nope", *dbf], tmp_path, None)
    r = _gw_in(["endpoints", "show", "nope", *api], tmp_path, b"Mat-khau-2025\n")
    assert d[0] == r[0] == 1 and d[2] == r[2] and "nope" in d[2], (d, r)

    # The API user's own limits: a wrong password, a role it may not give.
    rc, out, err = _gw_in(["endpoints", "list", *api], tmp_path, b"wrong\n")
    assert rc == 1 and "login as \"cli-admin\" refused" in err, (rc, err)
    rc, out, err = _gw_in(["users", "add", "ops-1", "--role", "operator", "--unit", "00097", *api],
                          tmp_path, b"Mat-khau-2025\nops-password-1\n")
    assert rc == 0 and "user ops-1 added: role operator, unit 2025/00097 and below" in out, (rc, out, err)
    rc, out, err = _gw_in(["users", "add", "boss-2", "--role", "city-admin", "--unit", "00097",
                           "--api", api[1], "--user", "ops-1"],
                          tmp_path, b"ops-password-1\nboss-password-2\n")
    assert rc == 1 and "boss-2" in err and "not added" in err, (rc, err)
    with sqlite3.connect(db) as c:
        created = dict(c.execute("SELECT object_id, actor FROM adm_audit WHERE action = 'user.create'"))
    assert created.get("ops-1") == "cli-admin" and "boss-2" not in created, created


def _gw_in(args, cwd, stdin):
    """A command with `stdin` as its input (None: no input at all)."""
    out = run([str(gateway_bin()), *args], timeout=60, cwd=cwd, input_bytes=stdin)
    return out.returncode, out.stdout.decode(errors="replace"), out.stderr.decode(errors="replace")
