"""GIL contention: the cell's threads waited for the GIL while another of its threads ran Python.

The wait is measured, not inferred from stacks: the GIL probe (`collectors/gil_probe.py`) times how long a
thread waking on a schedule waits for the GIL, net of the OS's own delay, per window. Which thread held it
comes from the kernel's per-thread CPU time the probe records beside it (stacks cannot tell a spinning
thread from a sleeping one); which threads suffered comes from their samples and token arrivals. Without
the probe's series (older runs, the probe off) the rule stays silent.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from workbench.analysis.critical_path import NS_PER_MS
from workbench.analysis.findings.model import Evidence, Finding, severity_of
from workbench.analysis.findings.registry import rule
from workbench.analysis.stacks import is_parked
from workbench.model.gil import NOTES_KEY, WAIT_MS_MAX, WAIT_MS_MEAN, WAIT_SHARE, thread_of_series
from workbench.model.recording import Recording
from workbench.model.run import Run

# A thread that wants the GIL at the probe's pace loses a fifth of its time or more. One thread spinning in
# Python reads ~0.5 at the default 5 ms probe interval and 5 ms switch interval (each wake-up waits a whole
# switch interval); an idle process reads under 0.02 on a busy 2-core VM, the OS's delay taken away.
MIN_WAIT_SHARE = 0.2
# Sustained: two windows' worth at least, so one GC pass or one long C call holding the GIL is not a finding.
MIN_PERIOD_MS = 200.0
# A thread on a core for 30% of the contended period or more is CPU-bound: the likely holder of the GIL. Not
# higher: a Python loop contending with other threads waits for the GIL itself at each hand-over (measured
# 0.5-0.7 of a core for a pure-Python spinner beside a stream reader on this 2-core VM).
MIN_BUSY_CPU_SHARE = 0.3
# A thread that ran this share of the period woke and took the GIL (a thread asleep throughout reads ~0):
# with unparked samples, it is a thread that wanted the GIL, not one sleeping beside the busy one.
MIN_ACTIVE_CPU_SHARE = 0.005
# Without the probe's CPU series, a thread sampled in (unparked) Python code this often is the suspect.
MIN_BUSY_SAMPLED_SHARE = 0.5
# The profiler's own threads (probe, sampler, telemetry) are not the cell's.
PROFILER_THREAD_PREFIX = "workbench-"
MAX_POINTERS = 8
HOT_FUNCTIONS = 3


@dataclass(frozen=True)
class _Window:
    t_ns: int  # the counters' time, before clipping to the cell
    start_ns: int
    end_ns: int
    share: float
    mean_ms: float
    max_ms: float

    @property
    def length_ns(self) -> int:
        return self.end_ns - self.start_ns


@dataclass
class _Thread:
    """What one thread did during the contended periods."""

    thread_id: int
    cpu_ns: float = 0.0
    sampled_ns: int = 0
    busy_ns: int = 0
    chunks: int = 0
    self_ns: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@rule("gil_contention", "threads waited for the GIL while another thread of the cell ran Python")
def gil_contention(run: Run, baseline: Run | None = None) -> list[Finding]:
    rec = run.recording
    windows = _windows(rec, _cell_range(run))
    periods = _periods(windows)
    if not periods:
        return []
    threads = _threads(rec, periods)
    contended_ns = sum(w.length_ns for p in periods for w in p)
    busy, used_cpu = _busy(threads, contended_ns)
    holders = {t.thread_id for t in busy}
    waiting = [
        t
        for t in threads.values()
        if t.thread_id not in holders and (t.chunks or _ran(t, contended_ns, used_cpu))
    ]
    # Two threads at least: the holder's own waits (the probe's) hurt nobody when no other thread ran.
    if not busy or len(busy) + len(waiting) < 2:
        return []
    return [_finding(run, periods, busy, waiting, contended_ns, used_cpu)]


def _ran(thread: _Thread, contended_ns: int, used_cpu: bool) -> bool:
    """Sampled in unparked code and, where the kernel's CPU time is known, on a core at all."""
    if not thread.busy_ns:
        return False
    return not used_cpu or thread.cpu_ns >= MIN_ACTIVE_CPU_SHARE * contended_ns


def _cell_range(run: Run) -> tuple[int, int]:
    start, end = run.metrics.get("cell_start_ms"), run.metrics.get("cell_end_ms")
    if isinstance(start, int | float) and isinstance(end, int | float):
        return round(start * NS_PER_MS), round(end * NS_PER_MS)
    return 0, run.duration_ns


def _windows(rec: Recording, cell: tuple[int, int]) -> list[_Window]:
    """The probe's windows inside the cell; each ends where the next begins (the last: the median length)."""
    by_series: dict[str, dict[int, float]] = defaultdict(dict)
    for point in rec.counters:
        if point.series in (WAIT_SHARE, WAIT_MS_MEAN, WAIT_MS_MAX):
            by_series[point.series][point.t_ns] = point.value
    starts = sorted(by_series[WAIT_SHARE])
    if len(starts) < 2:
        return []
    last = statistics.median(b - a for a, b in itertools.pairwise(starts))
    ends = [*starts[1:], starts[-1] + round(last)]
    out = []
    for start, end in zip(starts, ends, strict=True):
        clipped = (max(start, cell[0]), min(end, cell[1]))
        if clipped[1] > clipped[0]:
            mean = by_series[WAIT_MS_MEAN].get(start, 0.0)
            top = by_series[WAIT_MS_MAX].get(start, 0.0)
            out.append(_Window(start, *clipped, by_series[WAIT_SHARE][start], mean, top))
    return out


def _periods(windows: list[_Window]) -> list[list[_Window]]:
    """Runs of consecutive windows above `MIN_WAIT_SHARE` lasting `MIN_PERIOD_MS` or more."""
    periods: list[list[_Window]] = []
    current: list[_Window] = []
    for window in [*windows, None]:
        if window is not None and window.share >= MIN_WAIT_SHARE:
            current.append(window)
            continue
        if current and (current[-1].end_ns - current[0].start_ns) / NS_PER_MS >= MIN_PERIOD_MS:
            periods.append(current)
        current = []
    return periods


def _threads(rec: Recording, periods: list[list[_Window]]) -> dict[int, _Thread]:
    """The cell's threads' CPU time, samples and token arrivals inside the contended periods."""
    ranges = [(p[0].start_ns, p[-1].end_ns) for p in periods]
    threads: dict[int, _Thread] = {}

    def get(thread_id: int) -> _Thread | None:
        if rec.thread_name(thread_id).startswith(PROFILER_THREAD_PREFIX):
            return None
        return threads.setdefault(thread_id, _Thread(thread_id))

    windows = {w.t_ns: w for p in periods for w in p}
    for point in rec.counters:
        thread_id = thread_of_series(point.series)
        window = windows.get(point.t_ns)
        if thread_id is not None and window is not None and (thread := get(thread_id)) is not None:
            thread.cpu_ns += point.value * window.length_ns
    for sample in rec.samples:
        overlap = _overlap(ranges, sample.t_ns, sample.t_ns + sample.duration_ns)
        frames = rec.stack_frames(sample.stack_id)
        if overlap <= 0 or not frames or (thread := get(sample.thread_id)) is None:
            continue
        thread.sampled_ns += overlap
        if not is_parked(frames):
            thread.busy_ns += overlap
            thread.self_ns[frames[-1].function] += overlap
    span_threads = {s.span_id: s.thread_id for s in rec.spans}
    for token in rec.tokens:
        thread_id = span_threads.get(token.request_id)
        if thread_id is None or _overlap(ranges, token.t_ns, token.t_ns + 1) <= 0:
            continue
        if (thread := get(thread_id)) is not None:
            thread.chunks += 1
    return threads


def _overlap(ranges: list[tuple[int, int]], start: int, end: int) -> int:
    return sum(max(0, min(end, hi) - max(start, lo)) for lo, hi in ranges)


def _busy(threads: dict[int, _Thread], contended_ns: int) -> tuple[list[_Thread], bool]:
    """The likely holders: by kernel CPU time where the probe recorded it, else by unparked samples."""
    if any(t.cpu_ns for t in threads.values()):
        busy = [t for t in threads.values() if t.cpu_ns >= MIN_BUSY_CPU_SHARE * contended_ns]
        return sorted(busy, key=lambda t: -t.cpu_ns), True
    busy = [
        t for t in threads.values() if t.sampled_ns and t.busy_ns >= MIN_BUSY_SAMPLED_SHARE * contended_ns
    ]
    return sorted(busy, key=lambda t: -t.busy_ns), False


def _finding(
    run: Run,
    periods: list[list[_Window]],
    busy: list[_Thread],
    waiting: list[_Thread],
    contended_ns: int,
    used_cpu: bool,
) -> Finding:
    rec = run.recording
    windows = [w for p in periods for w in p]
    contended_ms = contended_ns / NS_PER_MS
    share = sum(w.share * w.length_ns for w in windows) / contended_ns
    mean_wait = sum(w.mean_ms * w.length_ns for w in windows) / contended_ns
    gain, assumption = _gain(rec, waiting, share, mean_wait, contended_ms)
    holder = busy[0]
    hot = sorted(holder.self_ns.items(), key=lambda item: -item[1])[:HOT_FUNCTIONS]
    hot_names = ", ".join(name for name, _ in hot)
    cell_ms = run.wall_s * 1000
    probe = run.metrics.get(NOTES_KEY)
    return Finding(
        kind="gil_contention",
        severity=severity_of(gain, cell_ms),
        title=f"threads waited for the GIL {share:.0%} of {contended_ms:.0f} ms (mean {mean_wait:.1f} ms per "
        f"acquisition) while {rec.thread_name(holder.thread_id)} ran Python"
        + (f" (hottest: {hot_names})" if hot_names else ""),
        evidence={
            "wait_share": share,
            "wait_ms_mean": mean_wait,
            "wait_ms_max": max(w.max_ms for w in windows),
            "contended_ms": contended_ms,
            "periods": [
                {"start_ms": p[0].start_ns / NS_PER_MS, "end_ms": p[-1].end_ns / NS_PER_MS} for p in periods
            ],
            "busy_from": "kernel CPU time per thread" if used_cpu else "CPU samples (unparked Python stacks)",
            "busy_threads": [_describe(rec, t, contended_ns) for t in busy],
            "waiting_threads": [_describe(rec, t, contended_ns) for t in waiting],
            "probe": probe if isinstance(probe, dict) else None,
        },
        pointers=[
            Evidence(
                "time_range",
                f"GIL contended ({p[0].share:.0%} wait)",
                p[0].start_ns / NS_PER_MS,
                p[-1].end_ns / NS_PER_MS,
            )
            for p in periods[:MAX_POINTERS]
        ]
        + [
            Evidence(
                "frame",
                f"{name}: {ns / NS_PER_MS:.0f} ms sampled on {rec.thread_name(holder.thread_id)}",
                periods[0][0].start_ns / NS_PER_MS,
                periods[-1][-1].end_ns / NS_PER_MS,
                name,
            )
            for name, ns in hot
        ],
        suggestion="move the CPU-bound Python work off the threads: a ProcessPoolExecutor (or "
        "multiprocessing) for it, or code that releases the GIL (numpy, a C/Rust extension, "
        "tokenizers' batch calls); or run the waiting consumer (the stream reader) in its own process",
        gain_ms=gain,
        assumption=assumption,
    )


def _gain(
    rec: Recording, waiting: list[_Thread], share: float, mean_wait: float, contended_ms: float
) -> tuple[float, str]:
    """The time the most delayed waiting thread lost, assumed to be on the cell's critical path."""
    readers = [t for t in waiting if t.chunks]
    if readers:
        reader = max(readers, key=lambda t: t.chunks)
        lost = min(reader.chunks * mean_wait, contended_ms)
        return lost, (
            f"each of the {reader.chunks} chunks {rec.thread_name(reader.thread_id)} consumed in the "
            f"contended periods waited for the GIL as long as the probe did ({mean_wait:.1f} ms on average), "
            "and that thread is on the cell's critical path: its lost time ends the cell later by as much"
        )
    lost = share * contended_ms
    return lost, (
        f"the waiting thread wanted the GIL as often as the probe (every interval) and waited its measured "
        f"{share:.0%} of the {contended_ms:.0f} ms contended, on the cell's critical path"
    )


def _describe(rec: Recording, thread: _Thread, contended_ns: int) -> dict[str, object]:
    hot = sorted(thread.self_ns.items(), key=lambda item: -item[1])[:HOT_FUNCTIONS]
    return {
        "thread": rec.thread_name(thread.thread_id),
        "thread_id": thread.thread_id,
        "cpu_share": thread.cpu_ns / contended_ns,
        "sampled_busy_ms": thread.busy_ns / NS_PER_MS,
        "chunks": thread.chunks,
        "hot_functions": [{"function": name, "self_ms": ns / NS_PER_MS} for name, ns in hot],
    }
