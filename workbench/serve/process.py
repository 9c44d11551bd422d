"""`start_server()`: the server as a child process, for notebooks and tests.

A subprocess, not a thread: the server's event loop and the GIL stay out of the process being
profiled, so client-side timings are not disturbed by the server's own work. The child gets its own
process group (killed as a whole on stop), is stopped at interpreter exit (atexit), and watches its
parent, so even a parent killed outright leaves nothing running.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from workbench.serve.arguments import options_to_argv
from workbench.serve.config import BACKENDS, BackendName

READY = re.compile(r"serving (\S+) on (http://127\.0\.0\.1:(\d+)/v1)")
STOP_WAIT_S = 5.0


class ServerStartError(RuntimeError):
    """The server exited or did not get ready in time; the message carries its stderr."""


class ServerHandle:
    """A running server. Use as a context manager, or call `stop()`."""

    def __init__(self, process: subprocess.Popen[bytes], logs: Path, backend: BackendName) -> None:
        self.process = process
        self.backend = backend
        self._logs = logs
        self.base_url = ""
        """`http://127.0.0.1:<port>/v1`: what `openai.OpenAI(base_url=...)` takes."""
        self.port = 0
        atexit.register(self.stop)

    @property
    def metrics_url(self) -> str:
        """`http://127.0.0.1:<port>/metrics`: the Prometheus endpoint, with vLLM's metric names."""
        return f"http://127.0.0.1:{self.port}/metrics"

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            match = READY.search(self._read("stdout"))
            if match:
                self.base_url, self.port = match.group(2), int(match.group(3))
                return
            if self.process.poll() is not None:
                self._fail(f"exited with status {self.process.returncode} before it was ready")
            time.sleep(0.02)
        self._fail(f"was not ready after {timeout_s:g} s")

    def stop(self) -> None:
        """Terminate the server's process group and wait for it; safe to call more than once."""
        atexit.unregister(self.stop)
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self._logs, ignore_errors=True)

    def stderr(self) -> str:
        return self._read("stderr")

    def _signal(self, sig: signal.Signals) -> None:
        try:
            if os.name == "posix":
                os.killpg(self.process.pid, sig)
            else:  # pragma: no cover - no process groups; the server starts no children of its own
                self.process.send_signal(sig)
        except ProcessLookupError:
            pass

    def _read(self, name: str) -> str:
        try:
            return (self._logs / name).read_text(errors="replace")
        except OSError:
            return ""

    def _fail(self, what: str) -> None:
        stderr = self.stderr().strip()
        self.stop()
        raise ServerStartError(f"workbench server {what}; its stderr:\n{stderr or '(empty)'}")

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<workbench server {self.backend} {self.base_url or '(starting)'} pid={self.pid} {state}>"


def start_server(
    backend: BackendName = "synthetic",
    *,
    ttft_ms: float | None = None,
    token_delay_ms: float | None = None,
    tokens_per_chunk: int | None = None,
    jitter_ms: float | None = None,
    output_tokens: int | None = None,
    error_rate: float | None = None,
    drop_rate: float | None = None,
    seed: int | None = None,
    model_dir: str | Path | None = None,
    max_num_seqs: int | None = None,
    kv_cache_tokens: int | None = None,
    per_request_metrics: bool = False,
    profile_dir: str | Path | None = None,
    otlp_spans: str | Path | None = None,
    port: int = 0,
    timeout_s: float = 120.0,
    env: Mapping[str, str] | None = None,
) -> ServerHandle:
    """Start `python -m workbench.serve` on 127.0.0.1 and return once it answers.

    None leaves an option at the server's default (see `workbench serve --help`). Raises ValueError
    for a bad option, ServerStartError (with the server's stderr) when it fails to start.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    argv = options_to_argv(
        {
            "port": port,
            "ttft_ms": ttft_ms,
            "token_delay_ms": token_delay_ms,
            "tokens_per_chunk": tokens_per_chunk,
            "jitter_ms": jitter_ms,
            "output_tokens": output_tokens,
            "error_rate": error_rate,
            "drop_rate": drop_rate,
            "seed": seed,
            "max_num_seqs": max_num_seqs,
            "kv_cache_tokens": kv_cache_tokens,
        }
    )
    if model_dir is not None:
        argv += ["--model-dir", str(model_dir)]
    if per_request_metrics:
        argv.append("--enable-per-request-metrics")
    if profile_dir is not None:
        argv += ["--profile-dir", str(profile_dir)]
    if otlp_spans is not None:
        argv += ["--otlp-spans", str(otlp_spans)]
    command = [sys.executable, "-m", "workbench.serve", "--backend", backend, *argv]
    command += ["--exit-with-parent", str(os.getpid())]
    logs = Path(tempfile.mkdtemp(prefix="workbench-serve-"))
    # Output goes to files, not pipes: a pipe nobody drains would block the server once it fills.
    with open(logs / "stdout", "wb") as stdout, open(logs / "stderr", "wb") as stderr:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=os.name == "posix",
        )
    handle = ServerHandle(process, logs, backend)
    handle.wait_ready(timeout_s)
    return handle
