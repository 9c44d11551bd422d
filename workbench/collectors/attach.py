"""`--attach PID`: py-spy on another local process (a server, a worker), into lanes of its own.

The same machinery as the cell's own py-spy (`pyspy.PySpyCollector`: a child process started behind a
one-line gate, polled until it samples, stopped with SIGINT so that it writes its trace), pointed at
another PID. Its samples go into an `AttachedProcess`, not into the cell's samples: the cell's CPU
metrics and flame graph stay the cell's. Its stacks are not trimmed to a cell (it has none): only the
thread bootstrap at their root goes, and a thread parked in a wait is idle.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from typing import Any

from workbench.analysis.stacks import is_parked
from workbench.collectors.base import CollectorContext
from workbench.collectors.pyspy import TRACE_FILE, PySpyCollector, PySpyStartError
from workbench.collectors.pyspy_trace import thread_count, thread_states
from workbench.model.attached import AttachedProcess
from workbench.model.events import CollectorStatus, Frame, StackSample
from workbench.model.recording import Recording

_SAMPLES_LINE = re.compile(r"Samples: (\d+)")
LABEL_CHARS = 48
PTRACE_FIX = (
    "run the notebook as the same user as that process (or as root), and allow ptrace: "
    "`sudo sysctl kernel.yama.ptrace_scope=0` (in Docker: --cap-add SYS_PTRACE)"
)
# Leading frames that only start a thread or a module; the process's own code begins below them.
_BOOTSTRAP_FILES = ("/threading.py", "/runpy.py", "<frozen runpy>", "/concurrent/futures/thread.py")


class AttachError(RuntimeError):
    """The process cannot be sampled; the message is one line saying what is missing and how to fix it."""


def process_label(pid: int) -> str:
    """`pid 1234 (python serve.py)`, from /proc (`pid 1234` where its command line cannot be read)."""
    try:
        words = [w for w in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if w]
    except OSError:
        words = []
    if not words:
        return f"pid {pid}"
    text = " ".join(
        [os.path.basename(words[0].decode(errors="replace"))]
        + [w.decode(errors="replace") for w in words[1:]]
    )
    if len(text) > LABEL_CHARS:
        text = text[: LABEL_CHARS - 1] + "…"
    return f"pid {pid} ({text})"


def check_target(pid: int) -> None:
    """AttachError when `pid` is this process, does not exist, or belongs to a user we may not signal."""
    if pid == os.getpid():
        raise AttachError(
            f"pid {pid} is this process: its CPU profile is the cell's own (drop --attach {pid})"
        )
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        raise AttachError(
            f"no process with pid {pid} on this machine (is it still running? `ps -p {pid}`)"
        ) from None
    except PermissionError:
        raise AttachError(f"{process_label(pid)}: permission denied: {PTRACE_FIX}") from None


class AttachedPySpy(PySpyCollector):
    def __init__(self, pid: int) -> None:
        super().__init__()
        self.target = pid
        self.name = f"attach:{pid}"
        self.label = f"pid {pid}"
        self.result: AttachedProcess | None = None
        self._parent: CollectorContext | None = None

    def is_available(self) -> tuple[bool, str]:
        available, reason = super().is_available()
        if not available:
            return False, reason
        try:
            check_target(self.target)
        except AttachError as error:
            return False, str(error)
        return True, ""

    def _permit(self, tracer_pid: int) -> None:
        """Nothing: py-spy traces the other process, not this one (whose tracer stays the cell's py-spy)."""

    def command(self, context: CollectorContext, output: Path) -> list[str]:
        cmd = super().command(context, output)
        cmd[cmd.index("--pid") + 1] = str(self.target)
        return cmd

    def start(self, context: CollectorContext) -> None:
        """Raises AttachError (one line, with the fix) when py-spy cannot sample the process."""
        check_target(self.target)
        self.label = process_label(self.target)
        self._parent = context
        # Its own recording and notes, a temporary folder for py-spy's files (the run's directory holds the
        # cell's py-spy), and no cell to anchor stacks on.
        own = replace(
            context,
            pid=self.target,
            recording=Recording(),
            notes={},
            output_dir=None,
            anchor_files=frozenset(),
        )
        try:
            super().start(own)
        except (PySpyStartError, OSError) as error:
            raise AttachError(self._why(str(error))) from None

    def _why(self, message: str) -> str:
        lowered = message.lower()
        if "permission" in lowered or "not permitted" in lowered or "os error 1)" in lowered:
            return f"{self.label}: py-spy may not read it (permission denied): {PTRACE_FIX}"
        reason = message.split("; ")[0]
        return f"{self.label}: {reason} (is it a Python process? {PTRACE_FIX})"

    def stop(self) -> CollectorStatus:
        context, parent = self._context, self._parent
        try:
            self._terminate()
            if context is None or parent is None:
                return CollectorStatus(self.name, False, "never started")
            output = self._output_dir / TRACE_FILE if self._output_dir else None
            if output is None or not output.exists():
                problem = self._stderr_text().strip().splitlines()
                return CollectorStatus(
                    self.name,
                    False,
                    f"py-spy wrote no samples of {self.label} ({problem[-1:] or 'no output'})",
                )
            events = json.loads(output.read_text() or "[]")
            end = parent.window_end_ns if parent.window_end_ns is not None else parent.clock.now_ns()
            rate = self._measured_rate(events, end)
            recording = context.recording
            ingest_attached(
                events,
                recording,
                origin_ns=self._origin_ns,
                rate_hz=rate,
                window=(parent.window_start_ns, end),
            )
            self.result = AttachedProcess(self.target, self.label, recording, round(rate, 1))
            samples = sum(s.count for s in recording.samples)
            return CollectorStatus(
                self.name, True, f"py-spy {context.rate_hz} Hz on {self.label}: {samples} samples"
            )
        finally:
            self._cleanup()

    def _measured_rate(self, events: list[dict[str, Any]], end_ns: int) -> float:
        assert self._context is not None
        reported = _SAMPLES_LINE.search(self._stderr_text())
        elapsed_s = max((end_ns - self._origin_ns) / 1e9, 1e-9)
        ticks = int(reported.group(1)) / max(thread_count(events), 1) if reported else None
        return ticks / elapsed_s if ticks else float(self._context.rate_hz)


def ingest_attached(
    events: list[dict[str, Any]],
    recording: Recording,
    *,
    origin_ns: int,
    rate_hz: float,
    window: tuple[int, int],
    include_idle: bool = False,
) -> int:
    """py-spy's chrometrace of another process into `recording`, on the run clock (py-spy's 0 is
    `origin_ns`), keeping what falls inside `window`. Threads are named by order of appearance, the one
    running a module's top level "main". Returns the number of samples added."""
    start, end = window
    period_ns = 1e9 / rate_hz
    added = 0
    for index, (tid, history) in enumerate(sorted(thread_states(events).items())):
        roots = {frames[0] for _, frames in history if frames}
        main = any(root.function == "<module>" for root in roots)
        recording.threads[tid] = "main" if main else f"thread {index}"
        for (ts, frames), (next_ts, _) in pairwise(history):
            t0 = max(origin_ns + round(ts * 1000), start)
            t1 = min(origin_ns + round(next_ts * 1000), end)
            if t1 <= t0:
                continue
            own = _without_bootstrap(frames)
            if is_parked(own):
                own = []
            if not own and not include_idle:
                continue
            count = max(1, round((t1 - t0) / period_ns))
            recording.add_sample(StackSample(t0, tid, recording.intern_stack(own), t1 - t0, count))
            added += 1
    return added


def _without_bootstrap(frames: list[Frame]) -> list[Frame]:
    start = 0
    while start < len(frames) and any(marker in frames[start].file for marker in _BOOTSTRAP_FILES):
        start += 1
    return frames[start:]
