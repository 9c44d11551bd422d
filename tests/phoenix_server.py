"""A real Arize Phoenix on loopback, for the tests: started in its own process group with a private working
directory (sqlite), free HTTP and gRPC ports and no telemetry, waited for until `/healthz` answers, and
stopped with its whole process group.

`phoenix_or_skip()` says whether the `otel-test` extra is installed: without it the tests skip with a
notice, except under `CI=true`, where a missing Phoenix is a failure.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

INSTALL_HINT = "pip install -e '.[otel-test]'"
START_TIMEOUT_S = 120.0  # it takes 15-20 s on a 2-core VM (migrations, the app's imports)
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Phoenix:
    url: str
    """The base URL: the UI, the REST API (`/v1/...`) and OTLP/HTTP (`/v1/traces`)."""
    grpc_port: int
    working_dir: Path
    log: Path
    startup_s: float


def phoenix_or_skip() -> None:
    """Skip (fail under CI=true) unless Phoenix's server and client can be imported."""
    missing = [name for name in ("phoenix.server.main", "phoenix.client") if not _importable(name)]
    if not missing:
        return
    message = f"the Phoenix tests need arize-phoenix ({', '.join(missing)} not importable); {INSTALL_HINT}"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _environment(working_dir: Path, port: int, grpc_port: int) -> dict[str, str]:
    # Nothing of the caller's OpenTelemetry or Phoenix setup leaks in (a collector endpoint, auth).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PHOENIX_", "OTEL_"))}
    env.update(
        PHOENIX_WORKING_DIR=str(working_dir),
        PHOENIX_SQL_DATABASE_URL=f"sqlite:///{working_dir / 'phoenix.db'}",
        PHOENIX_HOST="127.0.0.1",
        PHOENIX_PORT=str(port),
        PHOENIX_GRPC_PORT=str(grpc_port),
        PHOENIX_TELEMETRY_ENABLED="false",
        PHOENIX_ALLOW_EXTERNAL_RESOURCES="false",
    )
    return env


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _tail(log: Path, lines: int = 25) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def running_phoenix(working_dir: Path) -> Iterator[Phoenix]:
    """Phoenix serving from `working_dir` until the block ends; then its process group is ended."""
    port, grpc_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    log = working_dir / "phoenix.log"
    started = time.perf_counter()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "phoenix.server.main", "serve"],
            cwd=working_dir,
            env=_environment(working_dir, port, grpc_port),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, ended as one
        )
    try:
        deadline = started + START_TIMEOUT_S
        while not _answers(url):
            if process.poll() is not None:
                pytest.fail(f"Phoenix exited with {process.returncode} before answering:\n{_tail(log)}")
            if time.perf_counter() > deadline:
                pytest.fail(f"Phoenix did not answer {url}/healthz in {START_TIMEOUT_S:.0f} s:\n{_tail(log)}")
            time.sleep(0.25)
        yield Phoenix(url, grpc_port, working_dir, log, time.perf_counter() - started)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(STOP_TIMEOUT_S)
            break
        except subprocess.TimeoutExpired:
            continue
    # Anything of the group still alive (a worker that outlived the server) goes too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
