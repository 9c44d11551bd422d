"""The GIL probe against real threads: near-zero wait when nothing else runs, a large wait while a thread
spins in Python, flat memory, and no thread left behind.

Bounds are loose on purpose: this 2-core VM runs other jobs, and the probe's subtraction of run-queue delay
is what keeps an idle reading low, not a quiet machine."""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from workbench.clock import RunClock
from workbench.collectors.base import CollectorContext
from workbench.collectors.gil_probe import THREAD_NAME, GilProbe, Window
from workbench.model.gil import NOTES_KEY, WAIT_MS_MAX, WAIT_MS_MEAN, WAIT_SHARE, thread_cpu_series
from workbench.model.recording import Recording

RUN_S = 1.0


def make_context() -> CollectorContext:
    return CollectorContext(
        clock=RunClock.start(), recording=Recording(), pid=0, main_thread_id=threading.get_ident()
    )


def values(context: CollectorContext, series: str) -> list[float]:
    return [c.value for c in context.recording.counters if c.series == series]


def probe_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


@pytest.fixture(autouse=True)
def no_leftover_probe() -> Iterator[None]:
    yield
    assert not probe_threads(), "a GIL probe thread outlived its test"


def spin(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(i * i for i in range(2000))


def probed(workload: threading.Thread | None) -> CollectorContext:
    context = make_context()
    probe = GilProbe()
    probe.start(context)
    if workload is not None:
        workload.start()
    time.sleep(RUN_S)
    status = probe.stop()
    assert status.started, status
    return context


def test_idle_process_measures_near_zero_wait() -> None:
    context = probed(None)
    shares = values(context, WAIT_SHARE)
    assert len(shares) >= 5
    # ~0.00 measured; a busy VM's stray wake-up spikes stay far below the rule's 0.2
    assert statistics.median(shares) < 0.05
    assert statistics.median(values(context, WAIT_MS_MEAN)) < 0.5


def test_a_thread_spinning_in_python_makes_the_probe_wait_a_switch_interval() -> None:
    stop = threading.Event()
    spinner = threading.Thread(target=spin, args=(stop,), name="spinner")
    try:
        context = probed(spinner)
    finally:
        stop.set()
        spinner.join()
    switch_ms = 1000 * sys.getswitchinterval()
    # Each wake-up waits ~one switch interval (5 ms) and the probe sleeps 5 ms between: ~0.5 of the window.
    # One loaded CI run read 0.24; a sleeper reads ~0 (the test above), so 0.1 still tells them apart.
    assert 0.1 < statistics.median(values(context, WAIT_SHARE)) <= 1.0
    assert 0.4 * switch_ms < statistics.median(values(context, WAIT_MS_MEAN)) < 3 * switch_ms
    assert max(values(context, WAIT_MS_MAX)) >= 0.4 * switch_ms
    # The kernel saw the spinner on a core in every window, the sleeping main thread in none (under the 1%
    # floor, so not written); that is how the rule names the holder. Alone on a core the spinner reads ~1.0;
    # a loaded 2-core machine halves that (one run read a median of 0.49 beside another busy process), so
    # the bound only says "busy", far above a sleeper's ~0.
    assert spinner.ident is not None
    spinner_shares = values(context, thread_cpu_series(spinner.ident))
    assert len(spinner_shares) >= len(values(context, WAIT_SHARE)) - 2
    assert statistics.median(spinner_shares) > 0.2
    # A sleeping thread's wake-ups may reach the 1% floor in a window on a busy machine (one CI run: 1.05%).
    assert all(share < 0.05 for share in values(context, thread_cpu_series(threading.get_ident())))
    assert context.recording.threads[spinner.ident] == "spinner"


def test_stop_ends_the_thread_and_describes_the_probe_in_the_notes() -> None:
    context = make_context()
    probe = GilProbe(interval_s=0.002, window_s=0.05)
    probe.start(context)
    assert len(probe_threads()) == 1
    time.sleep(0.2)
    probe.stop()
    assert not probe_threads()
    notes = context.notes[NOTES_KEY]
    assert isinstance(notes, dict)
    assert notes["interval_ms"] == 2.0 and notes["window_ms"] == 50.0
    assert notes["wakeups"] > 0 and notes["windows"] > 0
    assert notes["run_queue_source"] in ("schedstat", "none")


def test_memory_is_one_set_of_points_per_window_not_per_wakeup() -> None:
    context = make_context()
    probe = GilProbe(interval_s=0.001, window_s=0.1)
    probe.start(context)
    time.sleep(0.5)
    probe.stop()
    notes = context.notes[NOTES_KEY]
    assert isinstance(notes, dict)
    per_window = len(values(context, WAIT_SHARE))
    assert per_window == notes["windows"] <= 7
    assert int(str(notes["wakeups"])) > 3 * per_window


def test_window_summarises_its_wakeups() -> None:
    window = Window(start_ns=0)
    for wait in (0, 1_000_000, 3_000_000):
        window.add(wait)
    share, mean, top = window.counters(end_ns=10_000_000)
    assert (share.series, share.value) == (WAIT_SHARE, pytest.approx(0.4))
    assert (mean.series, mean.value) == (WAIT_MS_MEAN, pytest.approx(4 / 3))
    assert (top.series, top.value) == (WAIT_MS_MAX, 3.0)


def test_never_started_and_bad_arguments() -> None:
    assert not GilProbe().stop().started
    with pytest.raises(ValueError):
        GilProbe(interval_s=0)
    with pytest.raises(ValueError):
        GilProbe(interval_s=0.2, window_s=0.1)
    assert GilProbe().is_available() == (True, "")
