"""The scraper with a fake clock and recorded pages: points on the run clock, a failing scrape as one
notice (never an exception), and the scraper's own cost in the notes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from workbench.clock import RunClock
from workbench.collectors.base import CollectorContext
from workbench.collectors.server_metrics import NOTES_KEY, ServerMetricsCollector
from workbench.model.recording import Recording
from workbench.model.run import Run

DATA = Path(__file__).parent.parent / "data" / "server_metrics"


class FakeClock(RunClock):
    def __init__(self) -> None:
        super().__init__(origin_perf_ns=0, origin_wall_s=0.0)
        object.__setattr__(self, "readings", iter(range(0, 10**12, 50_000_000)))

    def now_ns(self) -> int:
        readings: Iterator[int] = object.__getattribute__(self, "readings")
        return next(readings)  # every reading is 50 ms after the one before


class Pages:
    """A fetcher that answers each scrape with the next recorded page, or raises."""

    def __init__(self, pages: list[str | Exception]) -> None:
        self.pages = pages
        self.url = "http://127.0.0.1:1/metrics"

    def get(self) -> str:
        page = self.pages.pop(0)
        if isinstance(page, Exception):
            raise page
        return page

    def close(self) -> None:
        pass


def collector_with(pages: list[str | Exception]) -> tuple[ServerMetricsCollector, CollectorContext]:
    collector = ServerMetricsCollector(("http://127.0.0.1:1",), 10.0, fetcher=lambda url, t: Pages(pages))  # type: ignore[arg-type,return-value]
    context = CollectorContext(clock=FakeClock(), recording=Recording(), pid=os.getpid(), main_thread_id=0)
    collector._context = context  # ticks driven by the test, not by the thread
    return collector, context


def test_scrapes_become_telemetry_on_the_run_clock() -> None:
    first, later = (DATA / "vllm.txt").read_text(), (DATA / "vllm_later.txt").read_text()
    collector, context = collector_with([first, later])
    collector.tick()
    collector.tick()
    collector.stop()
    run = Run(id="r", name="r", created="", duration_ns=10**9, origin_wall_s=0.0, recording=context.recording)
    telemetry = run.telemetry
    assert list(telemetry.columns) == ["series", "t_ms", "value"]
    waiting = telemetry[telemetry.series == "server0.requests_waiting"]
    # Each point is stamped at the middle of its request: sent at 0 and 150 ms, answered 50 ms later.
    assert waiting.t_ms.tolist() == [25.0, 175.0]
    assert waiting.value.tolist() == [3.0, 5.0]
    rate = telemetry[telemetry.series == "server0.generation_tokens_per_s"].value.tolist()
    assert rate == [200 / 0.15]  # 200 tokens between the two points, 150 ms apart
    notes = context.notes[NOTES_KEY]
    assert isinstance(notes, dict)
    server = notes["servers"][0]
    assert server["series"]["server0.requests_waiting"] == {
        "raw": "vllm:num_requests_waiting",
        "kind": "gauge",
    }
    assert notes["ticks"] == 2 and notes["scrape_cpu_ms"] >= 0
    assert collector.notices() == []


def test_a_failing_scrape_is_one_notice_and_the_run_goes_on() -> None:
    page = (DATA / "vllm.txt").read_text()
    collector, context = collector_with(
        [ConnectionRefusedError(111, "Connection refused"), page, 'vllm:num_requests_waiting{x="m" 3\n']
    )
    for _ in range(3):
        collector.tick()  # never raises
    statuses = collector.stop()
    notices = collector.notices()
    assert len(notices) == 1
    assert "2 of 3 scrapes" in notices[0] and "ConnectionRefusedError" in notices[0]
    assert statuses[0].started and "2 of 3 failed" in statuses[0].reason
    assert any(c.series == "server0.requests_waiting" for c in context.recording.counters)


def test_a_server_never_reached_is_a_status_not_an_error() -> None:
    collector, _ = collector_with([OSError("unreachable")])
    collector.tick()
    status = collector.stop()[0]
    assert not status.started and "no scrape succeeded" in status.reason
