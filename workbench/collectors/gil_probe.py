"""The GIL probe: a daemon thread that asks for the GIL on a fixed schedule and measures how long it waited.

Each cycle it sleeps `interval_s` (releasing the GIL) and times how much later than asked it got back to
Python. A thread waking while another holds the GIL running bytecode waits up to `sys.getswitchinterval()`
(5 ms by default) before the holder is made to drop it; that excess is the GIL wait. From the excess it
takes away what is not the GIL's:

- the time the kernel kept the probe runnable on a run queue (no free core: on a busy 2-core VM this is
  most of the noise), read from `/proc/thread-self/schedstat` around each sleep where Linux provides it;
- a noise floor (timer slack and the wake-up path), the smallest excess seen: first over a few calibration
  cycles while `start()` holds the calling thread idle, then as a running minimum.

Per window (100 ms by default) it writes the share of the window spent waiting and the mean and largest wait
per acquisition as `Counter`s on the run clock (`workbench.model.gil`); memory stays flat because wake-ups
are folded into the open window, never kept one by one.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass

from workbench.collectors.base import CollectorContext
from workbench.model.events import CollectorStatus, Counter
from workbench.model.gil import NOTES_KEY, WAIT_MS_MAX, WAIT_MS_MEAN, WAIT_SHARE, thread_cpu_series

THREAD_NAME = "workbench-gil-probe"
# 5 ms cycles cost a pure-Python loop under 1% (each wake-up during such a loop forces one GIL hand-over);
# at 2 ms the cost measured about twice as much. See the module's report for the numbers.
DEFAULT_INTERVAL_S = 0.005
DEFAULT_WINDOW_S = 0.1
# Calibration cycles run while `start()` keeps its caller parked: enough for a minimum, ~50 ms at most.
CALIBRATION_CYCLES = 8
CALIBRATION_TIMEOUT_S = 1.0
JOIN_TIMEOUT_S = 1.0
SCHEDSTAT = "/proc/thread-self/schedstat"
TASK_SCHEDSTAT = "/proc/self/task/{}/schedstat"
# A thread on a core less than this share of a window did not run for our purpose (a stream reader woken
# 100 times a second uses ~1-3%); not writing idle threads keeps the series few.
MIN_THREAD_CPU_SHARE = 0.01
NO_GIL = "this Python runs without a GIL (free-threaded build): there is no GIL wait to measure"


class RunQueueClock:
    """Nanoseconds the calling thread has spent runnable but not running (Linux schedstat, field 2)."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    @classmethod
    def open(cls) -> RunQueueClock:
        """For the calling thread; one that reads 0 where the kernel does not keep the statistic."""
        try:
            fd = os.open(SCHEDSTAT, os.O_RDONLY)
            cls(fd).read()
        except (OSError, ValueError, IndexError):
            return cls(None)
        return cls(fd)

    @property
    def available(self) -> bool:
        return self._fd is not None

    def read(self) -> int:
        if self._fd is None:
            return 0
        # pread at offset 0 re-reads the live statistic without reopening the file.
        return int(os.pread(self._fd, 128, 0).split()[1])

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def thread_cpu_ns(native_id: int) -> int | None:
    """Nanoseconds thread `native_id` of this process has run on a CPU (schedstat field 1), or None."""
    try:
        with open(TASK_SCHEDSTAT.format(native_id), "rb") as stat:
            return int(stat.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class ThreadCpu:
    """Each Python thread's share of a core since the last reading: who was running while the probe waited.

    Stacks cannot tell a thread spinning in Python from one asleep in a C call (both show the user's line);
    the kernel's on-CPU time can."""

    def __init__(self) -> None:
        self._last: dict[int, int] = {}
        self.names: dict[int, str] = {}

    def shares(self, elapsed_ns: int) -> dict[int, float]:
        current, out = {}, {}
        for thread in threading.enumerate():
            ident, native = thread.ident, thread.native_id
            if ident is None or native is None or thread.name == THREAD_NAME:
                continue
            ns = thread_cpu_ns(native)
            if ns is None:
                continue
            current[ident] = ns
            self.names[ident] = thread.name
            previous = self._last.get(ident)
            if previous is not None and elapsed_ns > 0:
                out[ident] = min((ns - previous) / elapsed_ns, 1.0)
        self._last = current
        return out


@dataclass
class Window:
    """The wake-ups folded into one window: how many, their total and largest GIL wait."""

    start_ns: int
    wakeups: int = 0
    wait_ns: int = 0
    max_ns: int = 0

    def add(self, wait_ns: int) -> None:
        self.wakeups += 1
        self.wait_ns += wait_ns
        self.max_ns = max(self.max_ns, wait_ns)

    def counters(self, end_ns: int) -> list[Counter]:
        length = max(end_ns - self.start_ns, 1)
        return [
            Counter(WAIT_SHARE, self.start_ns, min(self.wait_ns / length, 1.0)),
            Counter(WAIT_MS_MEAN, self.start_ns, self.wait_ns / self.wakeups / 1e6),
            Counter(WAIT_MS_MAX, self.start_ns, self.max_ns / 1e6),
        ]


@dataclass
class ProbeStats:
    wakeups: int = 0
    windows: int = 0
    wait_ns: int = 0
    floor_ns: int = 0
    calibration_floor_ns: int = 0
    run_queue_ns: int = 0
    cpu_ns: int = 0


class GilProbe:
    """Measures GIL wait from a daemon thread; `stop()` writes `context.notes["gil_probe"]`."""

    name = "gil"

    def __init__(self, interval_s: float = DEFAULT_INTERVAL_S, window_s: float = DEFAULT_WINDOW_S) -> None:
        if interval_s <= 0 or window_s < interval_s:
            raise ValueError(f"need 0 < interval_s <= window_s, got {interval_s} and {window_s}")
        self.interval_s = interval_s
        self.window_ns = round(window_s * 1e9)
        self.stats = ProbeStats()
        self._context: CollectorContext | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._calibrated = threading.Event()
        self._run_queue_source = "none"
        self._failure = ""

    def is_available(self) -> tuple[bool, str]:
        gil_enabled = getattr(sys, "_is_gil_enabled", None)
        if gil_enabled is not None and not gil_enabled():
            return False, NO_GIL
        return True, ""

    def start(self, context: CollectorContext) -> None:
        """Start the thread and wait (the caller's thread idle) until it has measured its noise floor."""
        self._context = context
        self._thread = threading.Thread(target=self._loop, name=THREAD_NAME, daemon=True)
        self._thread.start()
        # Named in the run now: the session names sampled threads after this one has ended.
        context.recording.threads[self._thread.ident or 0] = self._thread.name
        self._calibrated.wait(CALIBRATION_TIMEOUT_S)

    def _loop(self) -> None:
        context = self._context
        assert context is not None
        run_queue = RunQueueClock.open()
        self._run_queue_source = "schedstat" if run_queue.available else "none"
        cpu_before = time.thread_time_ns()
        try:
            self._measure(context, run_queue)
        except Exception as error:
            # The probe's own bug must not take the user's run down; the status reports it.
            self._failure = f"{type(error).__name__}: {error}"
        finally:
            self._calibrated.set()
            run_queue.close()
            self.stats.cpu_ns = time.thread_time_ns() - cpu_before

    def _measure(self, context: CollectorContext, run_queue: RunQueueClock) -> None:
        stats = self.stats
        floor = min(self._excess(run_queue) for _ in range(CALIBRATION_CYCLES))
        stats.calibration_floor_ns = floor
        self._calibrated.set()
        threads = ThreadCpu()
        window = Window(context.clock.now_ns())
        threads.shares(0)
        while not self._stop.is_set():
            excess = self._excess(run_queue)
            floor = min(floor, excess)
            wait = excess - floor
            now = context.clock.now_ns()
            window.add(wait)
            stats.wakeups += 1
            stats.wait_ns += wait
            if now - window.start_ns >= self.window_ns:
                self._emit(context, window, now, threads)
                window = Window(now)
        stats.floor_ns = floor
        if window.wakeups:
            self._emit(context, window, context.clock.now_ns(), threads)

    def _excess(self, run_queue: RunQueueClock) -> int:
        """How much later than asked one sleep returned to Python, less the time spent on a run queue."""
        queued_before = run_queue.read()
        before = time.perf_counter_ns()
        time.sleep(self.interval_s)
        after = time.perf_counter_ns()
        queued = run_queue.read() - queued_before
        self.stats.run_queue_ns += queued
        return max(after - before - round(self.interval_s * 1e9) - queued, 0)

    def _emit(self, context: CollectorContext, window: Window, end_ns: int, threads: ThreadCpu) -> None:
        recording = context.recording
        for point in window.counters(end_ns):
            recording.add_counter(point)
        for ident, share in threads.shares(end_ns - window.start_ns).items():
            if share >= MIN_THREAD_CPU_SHARE:
                recording.add_counter(Counter(thread_cpu_series(ident), window.start_ns, share))
                recording.threads.setdefault(ident, threads.names[ident])
        self.stats.windows += 1

    def stop(self) -> CollectorStatus:
        thread, self._thread = self._thread, None
        context = self._context
        if thread is None or context is None:
            return CollectorStatus(self.name, False, "never started")
        self._stop.set()
        thread.join(JOIN_TIMEOUT_S)
        if thread.is_alive():
            self._failure = self._failure or f"probe thread still running after {JOIN_TIMEOUT_S} s"
        context.notes[NOTES_KEY] = self.summary()
        if self._failure:
            return CollectorStatus(self.name, False, f"GIL probe failed: {self._failure}")
        how = "run-queue delay from schedstat" if self._run_queue_source == "schedstat" else "no schedstat"
        return CollectorStatus(self.name, True, f"GIL probe every {self.interval_s * 1e3:g} ms ({how})")

    def summary(self) -> dict[str, object]:
        stats = self.stats
        return {
            "interval_ms": self.interval_s * 1e3,
            "window_ms": self.window_ns / 1e6,
            "switch_interval_ms": sys.getswitchinterval() * 1e3,
            "wakeups": stats.wakeups,
            "windows": stats.windows,
            "wait_ms": round(stats.wait_ns / 1e6, 3),
            "noise_floor_ms": round(stats.floor_ns / 1e6, 4),
            "calibration_floor_ms": round(stats.calibration_floor_ns / 1e6, 4),
            "run_queue_ms": round(stats.run_queue_ns / 1e6, 3),
            "run_queue_source": self._run_queue_source,
            "probe_cpu_ms": round(stats.cpu_ns / 1e6, 3),
        }
