"""Fixtures for the interop suite: processes stopped by PID, the gateway on free
loopback ports, SIPp. On failure every started process's log tail is printed."""

from __future__ import annotations

import pytest

from harness.gateway import Gateway
from harness.procs import Processes
from harness.sipp import Sipp


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


def _failed(request) -> bool:
    for when in ("setup", "call"):
        rep = getattr(request.node, f"rep_{when}", None)
        if rep is not None and rep.failed:
            return True
    return False


@pytest.fixture
def procs(request, tmp_path):
    registry = Processes(tmp_path / "logs")
    yield registry
    registry.stop_all()
    if _failed(request):
        # Shown in the failure report: what each peer and the gateway said.
        print("\n" + registry.dump_logs(200))


@pytest.fixture
def gateway_factory(procs, tmp_path):
    """Make (but do not start) gateways; each is stopped by PID at teardown."""
    made = []

    def make(data_dir=None, **kw) -> Gateway:
        gw = Gateway(procs, data_dir or (tmp_path / f"gw{len(made)}"), **kw)
        made.append(gw)
        return gw

    yield make
    for gw in made:
        gw.stop()


@pytest.fixture
def gateway(gateway_factory) -> Gateway:
    gw = gateway_factory()
    gw.start()
    return gw


@pytest.fixture
def sipp(procs, tmp_path) -> Sipp:
    return Sipp(procs, tmp_path / "sipp")
