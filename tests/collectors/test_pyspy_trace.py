"""py-spy chrometrace events become time-weighted samples on the run clock."""

from __future__ import annotations

from typing import Any

from workbench.collectors.pyspy_trace import ingest_chrometrace, thread_count
from workbench.model import Recording

CELL = "/tmp/ipykernel_1/2.py"


def event(ph: str, ts: float, tid: int, name: str, filename: str, line: int = 1) -> dict[str, Any]:
    return {"ph": ph, "ts": ts, "tid": tid, "name": name, "args": {"filename": filename, "line": line}}


def test_states_become_samples_with_exact_durations_and_parked_threads_are_idle() -> None:
    events = [
        event("B", 1000, 7, "<module>", CELL),
        event("B", 1000, 7, "hot", CELL),
        event("B", 1000, 9, "run", "/site-packages/tqdm/_monitor.py"),
        event("B", 1000, 9, "wait", "/usr/lib/python3.11/threading.py"),
        event("E", 31000, 7, "hot", CELL),  # 30 ms in hot, then 20 ms in <module> alone
        event("E", 51000, 7, "<module>", CELL),
        event("E", 51000, 9, "wait", "/usr/lib/python3.11/threading.py"),
        event("E", 51000, 9, "run", "/site-packages/tqdm/_monitor.py"),
    ]
    recording = Recording()
    added = ingest_chrometrace(
        events, recording, origin_ns=5_000_000, rate_hz=100, window=(0, 10**12), main_thread_id=7
    )
    assert added == 2 and thread_count(events) == 2
    hot, module = recording.samples
    assert (hot.t_ns, hot.duration_ns, hot.count) == (6_000_000, 30_000_000, 3)
    assert [f.function for f in recording.stack_frames(hot.stack_id)] == ["<module>", "hot"]
    assert (module.t_ns, module.duration_ns, module.count) == (36_000_000, 20_000_000, 2)
    assert {s.thread_id for s in recording.samples} == {7}


def test_the_window_clips_states() -> None:
    events = [event("B", 0, 7, "f", CELL), event("E", 100_000, 7, "f", CELL)]
    recording = Recording()
    ingest_chrometrace(events, recording, origin_ns=0, rate_hz=100, window=(40_000_000, 60_000_000))
    [sample] = recording.samples
    assert (sample.t_ns, sample.duration_ns) == (40_000_000, 20_000_000)


def test_the_kernel_finishing_an_execution_on_the_cell_thread_is_not_the_users_work() -> None:
    kernel = "/site-packages/IPython/core/interactiveshell.py"
    events = [
        # 10 ms of the cell, then 5 ms of IPython leaving a context manager before the profile stops.
        event("B", 0, 7, "run_code", kernel),
        event("B", 0, 7, "<module>", CELL),
        event("E", 10_000, 7, "<module>", CELL),
        event("B", 10_000, 7, "__exit__", "/usr/lib/python3.11/contextlib.py"),
        event("E", 15_000, 7, "__exit__", "/usr/lib/python3.11/contextlib.py"),
        event("E", 15_000, 7, "run_code", kernel),
    ]
    recording = Recording()
    ingest_chrometrace(events, recording, origin_ns=0, rate_hz=100, window=(0, 10**12), main_thread_id=7)
    [sample] = recording.samples
    assert [f.function for f in recording.stack_frames(sample.stack_id)] == ["<module>"]
    assert sample.duration_ns == 10_000_000
