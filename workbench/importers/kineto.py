"""torch.profiler (Kineto) traces onto the run clock: the clock mapping, `OpTable` conversion, imported runs.

Kineto stamps events in microseconds on its own clock; `KinetoClockMap` is the one place they become
run-clock nanoseconds, so every view of a trace agrees with every other collector to the nanosecond.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from workbench.importers.kineto_decode import (
    KinetoFormatError,
    KinetoTrace,
    exact_ns,
    read_kineto,
    read_kineto_bytes,
)
from workbench.importers.trace_input import MAX_TRACE_BYTES, MAX_TRACE_BYTES_ENV
from workbench.model.ops import CATEGORY_CODE, NO_DETAIL, OpLane, OpTable
from workbench.model.recording import Recording
from workbench.model.run import Run

__all__ = [
    "MAX_OPS",
    "MAX_TRACE_BYTES",
    "MAX_TRACE_BYTES_ENV",
    "KinetoClockMap",
    "KinetoFormatError",
    "KinetoTrace",
    "annotation_times",
    "ops_from_kineto",
    "read_kineto",
    "read_kineto_bytes",
    "run_from_kineto",
]

# An OpTable row costs ~40 bytes, so this bounds one run's ops at ~80 MB in memory (and a few times
# that while converting); a longer trace keeps its earliest events and counts the rest as dropped.
MAX_OPS = 2_000_000

# Categories whose events run on a GPU stream; `cuda_sync` and unknown ones go there when args name a device.
_GPU = np.array([CATEGORY_CODE[c] for c in ("kernel", "gpu_memcpy", "gpu_memset", "gpu_user_annotation")])
_HOST = np.array(
    [
        CATEGORY_CODE[c]
        for c in ("cpu_op", "user_annotation", "python_function", "cuda_runtime", "cuda_driver")
    ]
)
_USER_ANNOTATION = CATEGORY_CODE["user_annotation"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class KinetoClockMap:
    """run_ns = round((ts_us * 1000 - ref_ns) * scale + offset_ns), ts_us in Kineto's absolute µs.

    With `ref_ns` 0 (the default) this is `round(ts_us * 1000 * scale + offset_ns)`. A nonzero `ref_ns`
    (an exact integer near the trace) keeps the arithmetic in small numbers: absolute nanoseconds since
    1970 are ~1.8e18, where a float64 steps by 256 ns.
    """

    offset_ns: float
    scale: float = 1.0
    ref_ns: int = 0

    def to_run_ns(self, ts_us: npt.ArrayLike, *, epoch_ns: int = 0) -> IntArray:
        """Run-clock ns (int64) of Kineto µs counted from `epoch_ns` (0: the Unix epoch, i.e. absolute)."""
        # Shift by whole µs first: two nearby large floats subtract exactly, and the difference is small.
        whole_us, rest_ns = divmod(epoch_ns - self.ref_ns, 1000)
        relative_us = np.asarray(ts_us, dtype=np.float64) + float(whole_us)
        return np.rint((relative_us * 1000.0 + rest_ns) * self.scale + self.offset_ns).astype(np.int64)

    @classmethod
    def from_markers(cls, pairs: Sequence[tuple[float, int]]) -> KinetoClockMap:
        """The map through (Kineto absolute ts_us, run_ns) pairs: one fixes the offset, more the scale too.

        Two clocks drift apart by a few ppm over a long cell; a least-squares line through markers spread
        over the cell absorbs that.
        """
        if not pairs:
            raise ValueError("from_markers needs at least one (ts_us, run_ns) pair")
        ref_ns = exact_ns(pairs[0][0])
        x = np.array([float(exact_ns(ts) - ref_ns) for ts, _ in pairs])
        y = np.array([float(run_ns) for _, run_ns in pairs])
        if len(pairs) == 1 or np.ptp(x) == 0:
            return cls(offset_ns=float(y.mean() - x.mean()), ref_ns=ref_ns)
        scale, offset = np.polyfit(x, y, 1)
        return cls(offset_ns=float(offset), scale=float(scale), ref_ns=ref_ns)

    @classmethod
    def from_origin(cls, origin_us: float) -> KinetoClockMap:
        """The map that puts Kineto's absolute `origin_us` at run ns 0."""
        return cls(offset_ns=0.0, ref_ns=exact_ns(origin_us))

    @classmethod
    def from_origin_ns(cls, origin_ns: int) -> KinetoClockMap:
        """Like `from_origin`, from exact absolute nanoseconds (e.g. `KinetoTrace.start_ns`)."""
        return cls(offset_ns=0.0, ref_ns=int(origin_ns))


def annotation_times(trace: KinetoTrace, name: str) -> list[float]:
    """Absolute start times (µs) of the `user_annotation` events called `name`, earliest first."""
    try:
        name_id = trace.names.index(name)
    except ValueError:
        return []
    rows = (trace.name_id == name_id) & (trace.category == _USER_ANNOTATION)
    return sorted(float(t) for t in trace.ts_us[rows])


def ops_from_kineto(
    trace: KinetoTrace,
    clock: KinetoClockMap,
    *,
    window_us: tuple[float, float] | None = None,
    drop_names: Collection[str] = (),
    max_events: int = MAX_OPS,
    source: str = "torch.profiler",
) -> OpTable:
    """The trace's complete events as an `OpTable` on the run clock, sorted by start.

    `window_us` (absolute µs) keeps the events that overlap it; `drop_names` removes our own markers.
    """
    rows = _selected_rows(trace, window_us, drop_names)
    rows = rows[np.argsort(trace.ts_rel_us[rows], kind="stable")]
    dropped = max(0, rows.size - max_events)
    rows = rows[:max_events]
    ts = trace.ts_rel_us[rows]
    start_ns = clock.to_run_ns(ts, epoch_ns=trace.epoch_ns)
    # From the duration rather than a second mapped timestamp: durations stay exact to the nanosecond.
    length_ns = np.rint(trace.dur_us[rows] * (1000.0 * clock.scale)).astype(np.int64)
    end_ns = start_ns + np.maximum(length_ns, 0)
    name_id, names = _reintern(trace.name_id[rows], trace.names)
    detail_id, details = _reintern(trace.detail_id[rows], trace.details)
    lane_id, lanes = _lanes(trace, rows)
    return OpTable(
        start_ns=start_ns,
        end_ns=end_ns,
        category=trace.category[rows],
        name_id=name_id,
        lane_id=lane_id,
        correlation=trace.correlation[rows],
        detail_id=detail_id,
        names=names,
        lanes=lanes,
        details=details,
        source=source,
        dropped=dropped,
        devices=[dict(p) for p in trace.device_properties],
    )


def _selected_rows(
    trace: KinetoTrace, window_us: tuple[float, float] | None, drop_names: Collection[str]
) -> IntArray:
    keep = np.ones(len(trace), bool)
    if drop_names:
        unwanted = set(drop_names)
        dropped_ids = [i for i, name in enumerate(trace.names) if name in unwanted]
        keep &= ~np.isin(trace.name_id, dropped_ids)
    if window_us is not None:
        # Compared relative to the trace's epoch: an absolute float64 would round to 0.25 µs.
        lo, hi = (exact_ns(t) - trace.epoch_ns for t in window_us)
        start = trace.ts_rel_us * 1000.0
        keep &= (start < hi) & (start + trace.dur_us * 1000.0 > lo)
    return np.flatnonzero(keep).astype(np.int64)


def _reintern(ids: npt.NDArray[np.int32], table: list[str]) -> tuple[npt.NDArray[np.int32], list[str]]:
    """Ids into a table of only the strings these rows use, in the table's order (NO_DETAIL stays -1)."""
    used = np.zeros(len(table) + 1, bool)  # shifted by one: NO_DETAIL (-1) is entry 0
    used[ids + 1] = True
    used[0] = False
    present = np.flatnonzero(used)
    new_ids = np.full(len(table) + 1, NO_DETAIL, np.int32)
    new_ids[present] = np.arange(present.size, dtype=np.int32)
    return new_ids[ids + 1], [table[i] for i in (present - 1).tolist()]


def _lanes(trace: KinetoTrace, rows: IntArray) -> tuple[npt.NDArray[np.int32], list[OpLane]]:
    """Lane of each row: host threads in order of their first event, then GPU streams by (device, stream)."""
    category = trace.category[rows]
    device, stream = trace.device[rows], trace.stream[rows]
    on_gpu = np.isin(category, _GPU) | (~np.isin(category, _HOST) & ((device >= 0) | (stream >= 0)))
    pid, tid = trace.pid[rows], trace.tid[rows]
    # A GPU event's lane is (device, stream); Kineto also writes them as (pid, tid) when args lack them.
    major_code, majors = pd.factorize(np.where(on_gpu, np.where(device >= 0, device, pid), pid))
    minor_code, minors = pd.factorize(np.where(on_gpu, np.where(stream >= 0, stream, tid), tid))
    # One int per (gpu, major, minor); factorized unsorted, lanes are numbered in order of first event.
    width = max(minors.size, 1)
    span = max(majors.size, 1) * width
    lane_code, keys = pd.factorize(on_gpu * span + major_code.astype(np.int64) * width + minor_code)
    gpu = keys >= span
    major, minor = majors[(keys % span) // width], minors[keys % width]
    streams = np.flatnonzero(gpu)
    order = np.concatenate([np.flatnonzero(~gpu), streams[np.lexsort((minor[streams], major[streams]))]])
    position = np.empty(order.size, np.int32)
    position[order] = np.arange(order.size, dtype=np.int32)
    columns = [values[order].tolist() for values in (gpu, major, minor)]
    lanes = [_lane(trace, g, a, b) for g, a, b in zip(*columns, strict=True)]
    return position[lane_code], lanes


def _lane(trace: KinetoTrace, gpu: bool, major: int, minor: int) -> OpLane:
    if gpu:
        # ROCm may name a stream by its handle ("0x7f3a2c000000"): shown in hex, as the trace wrote it.
        stream = f"{minor:#x}" if minor >= 1 << 32 else str(minor)
        return OpLane("stream", major, minor, f"GPU {major} · stream {stream}")
    return OpLane("thread", -1, minor, trace.thread_names.get((major, minor), f"thread {minor}"))


def run_from_kineto(trace: KinetoTrace, name: str | None = None) -> Run:
    """An imported `Run` whose clock starts at the trace's first event."""
    source = Path(trace.source)
    clock = KinetoClockMap.from_origin_ns(trace.start_ns)
    ops = ops_from_kineto(trace, clock, source=f"import:{source.name}")
    duration_ns = max(trace.end_ns - trace.start_ns, int(ops.end_ns.max()) if len(ops) else 0)
    origin_s = trace.start_ns / 1e9
    environment: dict[str, Any] = {
        "imported_from": str(trace.source),
        "gpus": [str(p.get("name", "")) for p in trace.device_properties],
        "distributed": trace.metadata.get("distributedInfo"),
        "kineto": {k: v for k, v in trace.metadata.items() if k != "distributedInfo"},
        "threads": {f"{pid}/{tid}": label for (pid, tid), label in trace.thread_names.items()},
        "processes": {str(pid): label for pid, label in trace.process_names.items()},
    }
    wall_s = duration_ns / 1e9
    return Run(
        id=f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}",
        name=name or _stem(source),
        created=datetime.fromtimestamp(origin_s).astimezone().isoformat(timespec="seconds"),
        duration_ns=duration_ns,
        origin_wall_s=origin_s,
        environment=environment,
        recording=Recording(ops=ops),
        metrics={"wall_s": wall_s, "cell_start_ms": 0.0, "cell_end_ms": duration_ns / 1e6},
    )


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".json"):
        name = name.removesuffix(suffix)
    return name
