"""CPU sampling with py-spy as a child process attached to this process (out of process, no GIL)."""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path

from workbench.collectors.base import CollectorContext
from workbench.collectors.ptrace import allow_tracer, scope_advice, yama_scope
from workbench.collectors.pyspy_trace import ingest_chrometrace, thread_count
from workbench.model.events import CollectorStatus
from workbench.model.recording import Recording

# py-spy prints this once it has attached and is about to sample (a failed attach exits without it):
# start() waits for it, polling, instead of sleeping a fixed time; ~20-45 ms on a 2-core machine.
ATTACHED_LINE = b"Sampling process"
ATTACH_TIMEOUT_S = 2.0
ATTACH_POLL_S = 0.002
STOP_TIMEOUT_S = 10.0
EXIT_WRITE_S = 2.0
# py-spy's files in a run directory while the cell runs (see `salvage`): its trace, its log, and where
# its time 0 is on the run clock.
TRACE_FILE = "pyspy.json"
LOG_FILE = "pyspy.log"
START_FILE = "pyspy.start.json"
_SAMPLES_LINE = re.compile(r"Samples: (\d+)")
_live: weakref.WeakSet[subprocess.Popen[bytes]] = weakref.WeakSet()


PY_SPY_ENV = "WORKBENCH_PY_SPY"


def find_py_spy() -> str | None:
    """$WORKBENCH_PY_SPY, else py-spy next to this interpreter (a venv's bin/, also when not on PATH),
    else on PATH."""
    chosen = os.environ.get(PY_SPY_ENV)
    if chosen:
        return chosen if os.access(chosen, os.X_OK) else None
    beside = Path(sys.executable).parent / "py-spy"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("py-spy")


def _kill_leftovers() -> None:
    """At interpreter exit mid-cell (a kernel shut down or restarted while a cell runs): SIGINT first, so
    that py-spy writes what it sampled into the run's directory for its recovery, then SIGKILL."""
    running = [p for p in list(_live) if p.poll() is None]
    for process in running:
        process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + EXIT_WRITE_S
    for process in running:
        try:
            process.wait(max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            process.kill()


atexit.register(_kill_leftovers)


class PySpyStartError(RuntimeError):
    pass


class PySpyCollector:
    name = "cpu:py-spy"

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._context: CollectorContext | None = None
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self._output_dir: Path | None = None
        self._origin_ns = 0

    def is_available(self) -> tuple[bool, str]:
        if not sys.platform.startswith("linux"):
            return False, "py-spy attach is supported on Linux only here"
        if find_py_spy() is None:
            return False, "py-spy is not installed: pip install py-spy"
        if yama_scope() in (2, 3):
            return False, f"ptrace is restricted: {scope_advice(yama_scope())}"
        return True, ""

    def command(self, context: CollectorContext, output: Path) -> list[str]:
        exe = find_py_spy() or "py-spy"
        cmd = [exe, "record", "--pid", str(context.pid), "--rate", str(context.rate_hz)]
        cmd += ["--format", "chrometrace", "--full-filenames", "--idle", "-o", str(output)]
        cmd += ["--native"] if context.native else ["--nonblocking"]
        if context.gil:
            cmd.append("--gil")
        return cmd

    def start(self, context: CollectorContext) -> None:
        self._context = context
        if context.output_dir is not None:
            # In the run's directory: a kernel killed mid-cell leaves py-spy (its own process) to write
            # its trace there when it sees the kernel gone, and the run's recovery reads it.
            self._output_dir = context.output_dir
        else:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="workbench-pyspy-")
            self._output_dir = Path(self._tmpdir.name)
        output = self._output_dir / TRACE_FILE
        stderr = open(self._output_dir / LOG_FILE, "wb")  # noqa: SIM115 - closed below; py-spy reports on stdout
        # The shell waits for one line on stdin, so that we can name the child as our tracer (Yama)
        # before py-spy exists; `exec` keeps the pid we allowed.
        wrapper = ["/bin/sh", "-c", 'read _ && exec "$@"', "sh", *self.command(context, output)]
        process = subprocess.Popen(
            wrapper, stdin=subprocess.PIPE, stdout=stderr, stderr=stderr, start_new_session=True
        )
        stderr.close()
        _live.add(process)
        self._process = process
        self._permit(process.pid)
        self._origin_ns = context.clock.now_ns()
        if context.output_dir is not None:
            start = {"origin_ns": self._origin_ns, "rate_hz": context.rate_hz, "pid": process.pid}
            (self._output_dir / START_FILE).write_text(json.dumps(start))
        assert process.stdin is not None
        process.stdin.write(b"go\n")
        process.stdin.close()
        if not self._attached(process):
            message = self._stderr_text().strip().splitlines()
            self._cleanup()
            reason = message[-1] if message else f"py-spy exited with status {process.returncode}"
            raise PySpyStartError(f"py-spy could not attach ({reason}); {scope_advice(yama_scope())}")

    def _permit(self, tracer_pid: int) -> None:
        """Let py-spy (`tracer_pid`) trace this process where Yama allows tracing descendants only."""
        allow_tracer(tracer_pid)

    def _attached(self, process: subprocess.Popen[bytes]) -> bool:
        """Wait until py-spy says it samples (True) or exits (False). Past ATTACH_TIMEOUT_S (a machine
        so loaded that py-spy has not run yet) it is taken as attaching: stop() reports it if it failed."""
        assert self._output_dir is not None
        log = self._output_dir / LOG_FILE
        deadline = time.monotonic() + ATTACH_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                if ATTACHED_LINE in log.read_bytes():
                    return True
            except OSError:
                pass
            if process.poll() is not None:
                return False
            time.sleep(ATTACH_POLL_S)
        return process.poll() is None

    def _stderr_text(self) -> str:
        if self._output_dir is None:
            return ""
        path = self._output_dir / LOG_FILE
        return path.read_text(errors="replace") if path.exists() else ""

    def _terminate(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        # SIGINT makes py-spy write its output and exit.
        process.send_signal(signal.SIGINT)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop(self) -> CollectorStatus:
        context = self._context
        try:
            self._terminate()
            if context is None:
                return CollectorStatus(self.name, False, "never started")
            output = self._output_dir / TRACE_FILE if self._output_dir else None
            if output is None or not output.exists():
                problem = self._stderr_text().strip().splitlines()
                return CollectorStatus(
                    self.name, False, f"py-spy wrote no samples ({problem[-1:] or 'no output'})"
                )
            events = json.loads(output.read_text() or "[]")
            reported = _SAMPLES_LINE.search(self._stderr_text())
            end = context.window_end_ns if context.window_end_ns is not None else context.clock.now_ns()
            elapsed_s = max((end - self._origin_ns) / 1e9, 1e-9)
            # py-spy counts one sample per thread per tick (it runs with --idle).
            traces = int(reported.group(1)) if reported else None
            ticks = traces / max(thread_count(events), 1) if traces else None
            measured_rate = ticks / elapsed_s if ticks else float(context.rate_hz)
            ingest_chrometrace(
                events,
                context.recording,
                origin_ns=self._origin_ns,
                rate_hz=measured_rate,
                window=(context.window_start_ns, end),
                anchor_files=context.anchor_files,
                include_idle=context.include_idle,
                main_thread_id=context.main_thread_id,
            )
            context.notes["cpu_samples"] = sum(s.count for s in context.recording.samples)
            context.notes["cpu_rate_hz"] = round(measured_rate, 1)
            mode = "native, blocking" if context.native else "non-blocking"
            return CollectorStatus(self.name, True, f"py-spy {context.rate_hz} Hz, {mode}")
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None
        elif self._output_dir is not None:
            remove_files(self._output_dir)
        self._output_dir = None


def remove_files(run_dir: Path) -> None:
    """Remove what py-spy wrote into a run directory, once its samples are in the run."""
    for name in (TRACE_FILE, LOG_FILE, START_FILE):
        (run_dir / name).unlink(missing_ok=True)


def salvage(
    run_dir: Path, recording: Recording, window_ns: tuple[int, int], main_thread_id: int | None
) -> tuple[int, float | None]:
    """Add the samples py-spy wrote into `run_dir` for a run whose kernel died mid-cell; the number of
    samples added and py-spy's sampling rate ((0, None) when py-spy left no complete trace: it was
    killed too, or never started)."""
    try:
        start = json.loads((run_dir / START_FILE).read_text())
        events = json.loads((run_dir / TRACE_FILE).read_text() or "[]")
        origin_ns, rate_hz = int(start["origin_ns"]), float(start["rate_hz"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return 0, None
    if not isinstance(events, list) or rate_hz <= 0:
        return 0, None
    try:
        added = ingest_chrometrace(
            [e for e in events if isinstance(e, dict)],
            recording,
            origin_ns=origin_ns,
            rate_hz=rate_hz,
            window=window_ns,
            main_thread_id=main_thread_id,
        )
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        return 0, None  # a trace cut short or damaged: the journal's spans and tokens still stand
    return added, (rate_hz if added else None)
