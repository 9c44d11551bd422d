"""The GIL probe inside a profile: its windows in the run with gil_probe=True, nothing by default."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import workbench as wb
from workbench.model.gil import NOTES_KEY, WAIT_SHARE


def spin(seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        sum(i * i for i in range(1000))


def test_the_probe_measures_a_spinning_thread_and_stops(tmp_path: Path) -> None:
    with wb.profile(store=tmp_path, cpu=False, gil_probe=True) as run:
        worker = threading.Thread(target=spin, args=(0.6,), name="worker")
        worker.start()
        time.sleep(0.6)
        worker.join()
    status = next(c for c in run.collectors if c.name == "gil")
    assert status.started, status
    shares = [c.value for c in run.recording.counters if c.series == WAIT_SHARE]
    assert len(shares) >= 4 and max(shares) > 0.1
    assert run.metrics[NOTES_KEY]["wakeups"] > 20  # a 5 ms cycle, plus up to 5 ms waiting while spun
    assert not [t for t in threading.enumerate() if t.name.startswith("workbench-gil")]


def test_no_gil_probe_by_default(tmp_path: Path) -> None:
    with wb.profile(store=tmp_path, cpu=False) as run:
        time.sleep(0.05)
    assert not any(c.name == "gil" for c in run.collectors)
    assert not [c for c in run.recording.counters if c.series == WAIT_SHARE]
