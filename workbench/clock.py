"""The run's one clock: nanoseconds since the run started, plus a wall-clock anchor for display.

Every collector stamps events with `RunClock.now_ns()` or converts its own time base once, at
ingestion, with one of the `from_*` functions here; nothing downstream knows where a time came from.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class RunClock:
    """`origin_perf_ns` is `time.perf_counter_ns()` at the run's start (CLOCK_MONOTONIC on Linux)."""

    origin_perf_ns: int
    origin_wall_s: float

    @classmethod
    def start(cls) -> RunClock:
        return cls(origin_perf_ns=time.perf_counter_ns(), origin_wall_s=time.time())

    def now_ns(self) -> int:
        return time.perf_counter_ns() - self.origin_perf_ns

    def from_perf_ns(self, perf_ns: int) -> int:
        return perf_ns - self.origin_perf_ns

    def from_offset_us(self, base_ns: int, offset_us: float) -> int:
        """A time given in microseconds after `base_ns` (a run-clock time), as py-spy and Kineto give them."""
        return base_ns + round(offset_us * 1000)

    def wall_time(self, t_ns: int) -> float:
        return self.origin_wall_s + t_ns / 1e9

    def from_unix_ns(self, unix_ns: int) -> int:
        """A wall-clock time in Unix ns (OpenTelemetry's span times), on the run clock."""
        return from_unix_ns(self.origin_wall_s, unix_ns)


def from_unix_ns(origin_wall_s: float, unix_ns: int) -> int:
    """Unix ns on the clock of a run that started at `origin_wall_s` (its `Run.origin_wall_s`)."""
    return unix_ns - round(origin_wall_s * 1e9)
