"""The kernels collector: torch.profiler (Kineto) over the cell, converted onto the run clock.

With CUDA it records CPU ops, CUDA runtime calls, kernels and copies; without, CPU (aten) ops only, and
says why GPU tracing was not possible. Clocks are aligned with `record_function` markers: the run clock
is read just around each marker, Kineto stamps it on its own clock, and one mapping converts the rest.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from workbench.collectors.base import CollectorContext
from workbench.model.events import CollectorStatus
from workbench.model.ops import CATEGORY_CODE, GPU_WORK, OpTable

CLOCK_MARKER = "workbench::clock"
# Markers placed at each end of the trace; the one whose run-clock bracket is tightest aligns the clocks
# (a thread preempted between reading the clock and entering the marker widens its bracket).
MARKERS_PER_END = 5
# Fit Kineto's clock rate as well as its offset only over a span where marker jitter (microseconds)
# is negligible against the drift it corrects (tens of ppm: milliseconds over an hour).
MIN_SCALE_FIT_NS = 10_000_000_000
# Kineto writes "USDT ... profiler_start/stop" to stderr at this severity and below; Jupyter would show
# them in the cell's output. Honoured only if set before Kineto's first use in the process.
QUIET_KINETO_LOG_LEVEL = "6"


class TorchOpsStartError(RuntimeError):
    """torch.profiler could not start; the message says why."""


def cuda_available() -> bool:
    """CUDA is usable by torch, asked only if the user's code already imported torch."""
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    try:
        return bool(torch.cuda.is_available())
    except Exception:
        return False


def kernels_by_default() -> bool:
    """`--kernels` is on unless asked: when torch is imported in the kernel and CUDA is available."""
    return cuda_available()


class TorchOpsCollector:
    name = "kernels"

    def __init__(self) -> None:
        self._profiler: Any = None
        self._context: CollectorContext | None = None
        # (run-clock time just before entering the marker, just after), one per marker in trace order
        self._markers_ns: list[tuple[int, int]] = []
        self.gpu_note = ""
        self._warnings: list[str] = []

    def is_available(self) -> tuple[bool, str]:
        try:
            import torch.profiler  # noqa: F401
        except ImportError:
            return False, "torch is not installed (pip install torch to trace operators and kernels)"
        return True, ""

    def start(self, context: CollectorContext) -> None:
        available, reason = self.is_available()
        if not available:
            raise TorchOpsStartError(reason)
        os.environ.setdefault("KINETO_LOG_LEVEL", QUIET_KINETO_LOG_LEVEL)
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU]
        if cuda_available():
            activities.append(ProfilerActivity.CUDA)
        else:
            self.gpu_note = _no_cuda_reason()
        self._context = context
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self._profiler = profile(
                activities=activities, record_shapes=True, experimental_config=_experimental_config()
            )
            self._profiler.start()
        self._warnings.extend(str(w.message) for w in caught)
        self._mark()  # the first record_function in a process pays for lazy set-up: never the tightest
        for _ in range(MARKERS_PER_END):
            self._mark()

    def _mark(self) -> None:
        from torch.profiler import record_function

        assert self._context is not None
        before = self._context.clock.now_ns()
        with record_function(CLOCK_MARKER):
            after = self._context.clock.now_ns()
        self._markers_ns.append((before, after))

    def stop(self) -> CollectorStatus:
        context, profiler = self._context, self._profiler
        if context is None or profiler is None:
            return CollectorStatus(self.name, False, "never started")
        for _ in range(MARKERS_PER_END):
            self._mark()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            profiler.stop()
        self._warnings.extend(str(w.message) for w in caught)
        self._profiler = None
        started = time.perf_counter()
        table = self._convert(profiler, context)
        context.recording.ops = table
        context.notes["kernels_convert_s"] = time.perf_counter() - started
        if self._warnings:
            context.notes["kernels_warnings"] = sorted(set(self._warnings))
        return CollectorStatus(self.name, True, _describe(table))

    def _convert(self, profiler: Any, context: CollectorContext) -> OpTable:
        from workbench.importers.kineto import KinetoClockMap, annotation_times, ops_from_kineto, read_kineto

        with tempfile.TemporaryDirectory(prefix="workbench-kineto-") as folder:
            path = Path(folder) / "trace.json"
            profiler.export_chrome_trace(str(path))
            trace = read_kineto(path)
        pairs = _marker_pairs(annotation_times(trace, CLOCK_MARKER), self._markers_ns)
        table = ops_from_kineto(trace, KinetoClockMap.from_markers(pairs), drop_names={CLOCK_MARKER})
        table.gpu_note = self.gpu_note
        return table


def _experimental_config() -> Any:
    # Ops of every thread, not only the one that started the profiler (a worker thread's generate());
    # trace_only skips building Python event objects we never read: we export the trace instead.
    from torch._C._profiler import _ExperimentalConfig

    try:
        return _ExperimentalConfig(profile_all_threads=True, trace_only=True)
    except TypeError:  # an older torch without these options
        return _ExperimentalConfig()


def _marker_pairs(kineto_us: list[float], brackets: list[tuple[int, int]]) -> list[tuple[float, int]]:
    """(Kineto time, run time) of the tightest start marker, and of the tightest end marker when the cell
    was long enough for the clocks' rates to matter."""
    if len(kineto_us) != len(brackets) or len(brackets) < 2 * MARKERS_PER_END + 1:
        raise TorchOpsStartError(
            f"clock markers: found {len(kineto_us)} in the trace, placed {len(brackets)}"
        )
    marks = list(zip(kineto_us, brackets, strict=True))
    start = _tightest(marks[1 : 1 + MARKERS_PER_END])  # [0] paid for the lazy set-up
    end = _tightest(marks[-MARKERS_PER_END:])
    pairs = [start]
    if end[1] - start[1] >= MIN_SCALE_FIT_NS:
        pairs.append(end)
    return pairs


def _tightest(marks: list[tuple[float, tuple[int, int]]]) -> tuple[float, int]:
    kineto, (before, after) = min(marks, key=lambda mark: mark[1][1] - mark[1][0])
    return kineto, (before + after) // 2


def _no_cuda_reason() -> str:
    torch = sys.modules.get("torch")
    version = getattr(torch, "__version__", "?")
    if torch is not None and getattr(torch.version, "cuda", None) is None:
        return f"GPU tracing not possible: torch {version} is a CPU-only build (CPU ops recorded)"
    return f"GPU tracing not possible: no CUDA device visible to torch {version} (CPU ops recorded)"


def _describe(table: OpTable) -> str:
    cpu_ops = int((table.category == CATEGORY_CODE["cpu_op"]).sum())
    gpu = table.mask(GPU_WORK)
    streams = {table.lanes[i].ident for i in set(table.lane_id[gpu].tolist())}
    text = f"{cpu_ops:,} CPU ops"
    if gpu.any():
        text += f", {int(gpu.sum()):,} GPU kernels and copies on {len(streams)} stream(s)"
    elif table.gpu_note:
        text += f"; {table.gpu_note}"
    if table.dropped:
        text += f"; {table.dropped:,} events past the cap left out"
    return text
