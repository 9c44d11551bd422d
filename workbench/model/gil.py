"""Names of the GIL probe's counter series, shared by the probe that writes them and the rule that reads them.

Each point covers one window of the probe's wake-ups, from its `t_ns` to the next point's (windows are
contiguous while the probe runs). Waits are what the probe measured for itself: a thread that asked for the
GIL every `interval` (see `workbench.collectors.gil_probe`), net of the OS's own wake-up delay.
"""

from __future__ import annotations

PREFIX = "gil."
# Share of the window the probe spent waiting for the GIL after its sleep ended (0..1).
WAIT_SHARE = "gil.wait_share"
# Mean and largest wait per GIL acquisition in the window, in ms.
WAIT_MS_MEAN = "gil.wait_ms_mean"
WAIT_MS_MAX = "gil.wait_ms_max"
# The key under which the probe describes itself in `CollectorContext.notes` (and the run's metrics).
NOTES_KEY = "gil_probe"
# A thread's share of a core in the window (kernel on-CPU time), written for threads above 1%.
THREAD_CPU_PREFIX = "gil.thread_cpu_share."


def thread_cpu_series(thread_id: int) -> str:
    return f"{THREAD_CPU_PREFIX}{thread_id}"


def thread_of_series(series: str) -> int | None:
    """The thread id of a `thread_cpu_series` name, or None for another series."""
    if not series.startswith(THREAD_CPU_PREFIX):
        return None
    tail = series[len(THREAD_CPU_PREFIX) :]
    return int(tail) if tail.isdigit() else None
