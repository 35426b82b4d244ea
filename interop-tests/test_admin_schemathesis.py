"""Schemathesis over the administration API of a running gateway: every
operation in gateway/admin/src/openapi.json gets generated requests (valid
and invalid ones) with a city administrator's bearer token, and every answer
must be no 5xx, carry a documented status code, a documented content type, a
body that fits the documented schema and the documented headers.

The document is loaded from the source tree at collection time (one test per
operation) and a separate test checks that the gateway serves exactly it.
Generation is derandomized and bounded (MAX_EXAMPLES per operation), so a CI
run repeats the same requests and finishes in a bounded time."""

from __future__ import annotations

import collections
import json
import urllib.request

import hypothesis
import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from harness.gateway import REPO, Gateway
from harness.procs import Processes
from test_admin_api import login, users_add

OPENAPI = REPO / "gateway" / "admin" / "src" / "openapi.json"
MAX_EXAMPLES = 30
USER, PASSWORD = "fuzz-city-admin", "schemathesis mật khẩu 2025"
# Vetting decisions belong to the security reviewer alone; with the city
# administrator's token they would only ever answer 403.
REVIEWER = "fuzz-reviewer"
REVIEWER_PATHS = ("/api/v1/vetting/{id}/approve", "/api/v1/vetting/{id}/suspend")

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

# A dialplan upload as TOML is text on the wire, like text/plain.
schemathesis.serializer.alias("application/toml", "text/plain")

schema = schemathesis.openapi.from_path(OPENAPI)
schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True)
# Each request is answered by a local process: a hung one fails the case
# instead of eating the CI budget.
schema.config.update(request_timeout=10)


# (operation, status) -> how many answers: proof that every operation was
# really exercised, with accepted and refused requests.
ANSWERS: collections.Counter = collections.Counter()


class AdminGateway:
    def __init__(self, gw: Gateway, token: str, reviewer_token: str):
        self.gw = gw
        self.base_url = f"http://127.0.0.1:{gw.admin_port}"
        self.token = token
        self.reviewer_token = reviewer_token

    def fresh_token(self) -> str:
        return login(self.gw, USER, PASSWORD)


@pytest.fixture(scope="module")
def admin_gateway(tmp_path_factory):
    """One throwaway gateway for the whole module: the generated requests
    create, change and delete what they like in it."""
    root = tmp_path_factory.mktemp("schemathesis")
    procs = Processes(root / "logs")
    gw = Gateway(procs, root / "gw")
    try:
        rc, out, err = users_add(gw, USER, "city-admin", PASSWORD)
        assert rc == 0, f"users add exit {rc}\nstdout: {out}\nstderr: {err}"
        rc, out, err = users_add(gw, REVIEWER, "security-reviewer", PASSWORD)
        assert rc == 0, f"users add exit {rc}\nstdout: {out}\nstderr: {err}"
        gw.start()
        yield AdminGateway(gw, login(gw, USER, PASSWORD), login(gw, REVIEWER, PASSWORD))
    finally:
        gw.stop()
        procs.stop_all()


@pytest.fixture
def gateway_log_on_failure(request, admin_gateway):
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print("\n--- gateway log (tail) ---\n" + "\n".join(admin_gateway.gw.log().splitlines()[-80:]))


def test_served_document_is_the_source_tree_one(admin_gateway):
    with urllib.request.urlopen(f"{admin_gateway.base_url}/api/v1/openapi.json", timeout=10) as r:
        assert r.status == 200
        assert r.headers.get_content_type() == "application/json"
        served = json.loads(r.read())
    assert served == json.loads(OPENAPI.read_text()), \
        "the gateway serves another OpenAPI document than gateway/admin/src/openapi.json"


@schema.parametrize()
@hypothesis.settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None,
                     database=None, print_blob=False,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_operation_conforms(case, admin_gateway, gateway_log_on_failure):
    if case.operation.method.upper() == "DELETE" and case.operation.path == "/api/v1/session":
        # Logging out must not end the token the other operations use.
        token = admin_gateway.fresh_token()
    elif case.operation.path in REVIEWER_PATHS:
        token = admin_gateway.reviewer_token
    else:
        token = admin_gateway.token
    response = case.call_and_validate(
        base_url=admin_gateway.base_url,
        headers={"Authorization": f"Bearer {token}"},
        checks=CHECKS,
    )
    ANSWERS[(case.operation.label, response.status_code)] += 1


def _edge_requests():
    """Requests the generator cannot make, as (operation, method, raw path,
    body): a path segment that is not UTF-8 once percent-decoded (the
    generator encodes whatever it makes), and a body over the size limit."""
    for result in schema.get_all_operations():
        op = result.ok()
        names = [p.name for p in op.path_parameters]
        if names:
            raw = op.path
            for name in names:
                raw = raw.replace("{" + name + "}", "%FF")
            yield op, raw, None
        if op.body:
            limit = (16 if op.path == "/api/v1/versions" else 2) << 20
            filled = op.path
            for name in names:
                filled = filled.replace("{" + name + "}", "1")
            yield op, filled, b"[" + b" " * limit + b"]"


@pytest.mark.parametrize("op,raw_path,body", list(_edge_requests()),
                         ids=lambda v: getattr(v, "label", None) or (
                             f"{len(v)} bytes" if isinstance(v, bytes) else str(v)))
def test_edge_request_answers_are_documented(op, raw_path, body, admin_gateway):
    headers = {"Authorization": f"Bearer {admin_gateway.token}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    response = requests.request(op.method.upper(), admin_gateway.base_url + raw_path,
                                data=body, headers=headers, timeout=30)
    expected = 413 if body is not None else 400
    assert response.status_code == expected, (response.status_code, response.text[:300])
    case = op.Case(path_parameters={p.name: "1" for p in op.path_parameters})
    case.validate_response(response, checks=CHECKS, headers=headers)


STATEFUL_SCENARIOS = 15
STATEFUL_STEPS = 8


def test_stateful_sequences_conform(admin_gateway, gateway_log_on_failure):
    """Sequences that feed one answer into the next request (an endpoint
    created, then read, changed, vetted, deleted; a version uploaded, then
    read, diffed, restored), with the links schemathesis infers. Logging out
    is left out: it would end the token the sequence runs with."""
    stateful_schema = schema.exclude(method="DELETE", path="/api/v1/session")
    base = stateful_schema.as_state_machine()

    def headers(case):
        token = (admin_gateway.reviewer_token if case.operation.path in REVIEWER_PATHS
                 else admin_gateway.token)
        return {"Authorization": f"Bearer {token}"}

    class Sequences(base):
        def get_call_kwargs(self, case):
            return {"base_url": admin_gateway.base_url, "headers": headers(case)}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            ANSWERS[("stateful " + case.operation.label, response.status_code)] += 1
            case.validate_response(response, checks=CHECKS, headers=headers(case),
                                   recorder=self.recorder)

    Sequences.run(settings=hypothesis.settings(
        max_examples=STATEFUL_SCENARIOS, stateful_step_count=STATEFUL_STEPS,
        derandomize=True, deadline=None, database=None, print_blob=False,
        suppress_health_check=list(hypothesis.HealthCheck)))


def test_every_operation_was_exercised():
    """Runs after the generated tests (file order): each operation got
    requests, and the run as a whole saw both accepted and refused ones."""
    labels = [op.ok().label for op in schema.get_all_operations()]
    ran = {label for label, _ in ANSWERS if not label.startswith("stateful ")}
    if not ran:
        pytest.skip("the generated tests did not run in this session")
    missing = [label for label in labels if label not in ran]
    assert not missing, f"operations that got no request: {missing}"
    stateful = sum(n for (label, _), n in ANSWERS.items() if label.startswith("stateful "))
    assert stateful > 0, "the stateful sequences sent no request"
    per_op = collections.Counter()
    for (label, _), n in ANSWERS.items():
        per_op[label] += n
    thin = {label: n for label, n in per_op.items() if n < 5 and not label.startswith("stateful ")}
    assert not thin, f"operations with fewer than 5 requests: {thin}"
    statuses = {status for _, status in ANSWERS}
    assert any(200 <= s < 300 for s in statuses), f"no request was accepted: {sorted(statuses)}"
    assert any(400 <= s < 500 for s in statuses), f"no request was refused: {sorted(statuses)}"
    print("\n" + "\n".join(f"{label}: {dict(sorted((s, n) for (l, s), n in ANSWERS.items() if l == label))}"
                           for label in sorted({label for label, _ in ANSWERS})))
