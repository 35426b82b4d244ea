"""Bounded external processes, always stopped by PID.

Every peer (gateway, SIPp, baresip, linphonec, kamailio ...) is started through
`Processes.start`, which records it so the test's finalizer can stop whatever
is still running even when the test body raised half-way.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

# Debian package that provides each external tool, so a missing tool fails
# with an actionable message instead of a bare FileNotFoundError.
PACKAGE_OF = {
    "sipp": "sip-tester",
    "baresip": "baresip",
    "linphonec": "linphone-cli",
    "sipsak": "sipsak",
    "kamailio": "kamailio",
    "rtpengine": "rtpengine-daemon",
    "tshark": "tshark",
    "sox": "sox",
    "soxi": "sox",
}


class MissingTool(RuntimeError):
    pass


def require_tool(name: str) -> str:
    """Absolute path of `name`, or fail naming the package to install."""
    path = shutil.which(name)
    if path is None:
        pkg = PACKAGE_OF.get(name, name)
        raise MissingTool(
            f"required tool '{name}' not found on PATH: install the Debian package "
            f"'{pkg}' (apt-get install -y --no-install-recommends {pkg}), "
            f"or run scripts/test-all.sh which installs everything"
        )
    return path


def tail(path: Path, lines: int = 200) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        return f"<cannot read {path}: {e}>"
    text = data.decode("utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:])


@dataclass
class Proc:
    name: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen
    started_at: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait(self, timeout: float) -> int:
        """Exit code; kills the process and raises if it overruns `timeout`."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(
                f"{self.name} (pid {self.pid}) still running after {timeout}s; killed.\n"
                f"command: {' '.join(self.argv)}\n--- last lines of {self.log_path} ---\n"
                f"{tail(self.log_path, 60)}"
            )

    def stop(self, grace: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL after `grace` seconds. Only ever this PID."""
        if self.popen.poll() is None:
            try:
                os.kill(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.kill(self.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait(timeout=10)
        if self.popen.stdin:
            try:
                self.popen.stdin.close()
            except OSError:
                pass
        return self.popen.returncode

    def send(self, line: str) -> None:
        """Write one line to the process's stdin (for linphonec)."""
        assert self.popen.stdin is not None, f"{self.name} was started without stdin"
        self.popen.stdin.write((line + "\n").encode())
        self.popen.stdin.flush()

    def log(self) -> str:
        return Path(self.log_path).read_text(errors="replace") if Path(self.log_path).exists() else ""


class Processes:
    """All processes a test started; `stop_all` runs in the test's finalizer."""

    def __init__(self, log_dir: Path):
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.procs: list[Proc] = []

    def start(
        self,
        name: str,
        argv: list[str],
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        stdin_pipe: bool = False,
        log_name: str | None = None,
    ) -> Proc:
        if os.sep not in argv[0]:
            require_tool(argv[0])
        log_path = self.log_dir / (log_name or f"{name}.log")
        # Append: a restarted process (gateway restart test) keeps one log.
        logf = open(log_path, "ab")
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        popen = subprocess.Popen(
            argv,
            cwd=str(cwd) if cwd else None,
            env=full_env,
            stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            # Own session: a Ctrl-C or a signal to pytest's group never reaches
            # the peers half-way; they are stopped by PID in order.
            start_new_session=True,
        )
        logf.close()
        proc = Proc(name=name, argv=list(argv), log_path=log_path, popen=popen)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()

    def dump_logs(self, lines: int = 200) -> str:
        out = []
        for proc in self.procs:
            out.append(
                f"===== {proc.name} (pid {proc.pid}, rc {proc.popen.returncode}) "
                f"{' '.join(proc.argv)}\n----- last {lines} lines of {proc.log_path} -----\n"
                f"{tail(proc.log_path, lines)}"
            )
        return "\n".join(out)


def run(argv: list[str], timeout: float, cwd: Path | None = None, env=None, input_bytes=None):
    """Run a short command to completion with a bound; returns CompletedProcess."""
    if os.sep not in argv[0]:
        require_tool(argv[0])
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    try:
        return subprocess.run(
            argv,
            cwd=str(cwd) if cwd else None,
            env=full_env,
            input=input_bytes,
            stdin=None if input_bytes is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"command timed out after {timeout}s: {' '.join(argv)}\n"
                             f"stdout: {e.stdout!r}\nstderr: {e.stderr!r}")


def wait_until(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll `predicate` until truthy or `timeout`; returns its last value."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            return last
        time.sleep(interval)
