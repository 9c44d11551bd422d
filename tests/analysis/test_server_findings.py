"""`kv_cache_pressure` and `server_queueing` on hand-built runs: planted and control, no clock involved.
(The planted queue against a real `workbench serve` is in tests/serve/test_server_metrics.py.)"""

from __future__ import annotations

from typing import Any

from workbench.analysis.findings.rules.server import kv_cache_pressure, server_queueing
from workbench.analysis.server import server_metrics
from workbench.analysis.server_split import NO_FIELDS, add_ttft_split
from workbench.model.events import Counter, Span, TokenEvent
from workbench.model.recording import Recording
from workbench.model.run import Run

MS = 1_000_000


def run_with(series: dict[str, list[float]], recording: Recording | None = None) -> Run:
    rec = recording or Recording()
    notes_series = {}
    for name, values in series.items():
        for i, value in enumerate(values):
            rec.add_counter(Counter(name, i * 100 * MS, value))
        notes_series[name] = {"raw": f"raw:{name}", "kind": "gauge"}
    notes = {"server_metrics": {"servers": [{"index": 0, "url": "u", "series": notes_series}]}}
    run = Run(id="r", name="r", created="", duration_ns=2000 * MS, origin_wall_s=0.0, recording=rec)
    run.metrics = {"wall_s": 2.0, "server": server_metrics(rec, notes)}
    return run


def test_kv_cache_near_full_with_preemptions_is_found() -> None:
    run = run_with({"server0.kv_cache_usage": [0.5, 0.93, 0.97, 0.6], "server0.preemptions": [0, 0, 2, 3]})
    (finding,) = kv_cache_pressure(run, None)
    assert finding.severity == "high"
    assert finding.evidence["kv_cache_usage_max"] == 0.97
    assert finding.evidence["preemptions"] == 3
    assert finding.evidence["usage_metric"] == "raw:server0.kv_cache_usage"
    assert (finding.pointers[0].start_ms, finding.pointers[0].end_ms) == (100.0, 200.0)


def test_kv_cache_with_room_and_no_preemption_is_silent() -> None:
    run = run_with({"server0.kv_cache_usage": [0.2, 0.6, 0.85], "server0.preemptions": [0, 0, 0]})
    assert kv_cache_pressure(run, None) == []


def _requests(rec: Recording, ttfts_ms: list[float], server_queue_ms: list[float] | None) -> None:
    for i, ttft in enumerate(ttfts_ms):
        span = Span(
            span_id=i + 1, name="chat", kind="llm", start_ns=0, end_ns=1500 * MS, attrs={"send_ns": 0}
        )
        if server_queue_ms is not None:
            span.attrs["server_metrics"] = {
                "queue_time_ms": server_queue_ms[i],
                "time_to_first_token_ms": 40.0,
                "generation_time_ms": 200.0,
            }
        rec.add_span(span)
        rec.add_token(TokenEvent(span.span_id, int(ttft * MS), 1))
        rec.add_token(TokenEvent(span.span_id, int(ttft * MS) + 200 * MS, 1))


def test_server_queue_with_rising_ttft_is_found() -> None:
    rec = Recording()
    _requests(rec, [50, 50, 450, 850], [0, 0, 400, 800])
    run = run_with({"server0.requests_waiting": [2, 2, 1, 0], "server0.requests_running": [2, 2, 2, 1]}, rec)
    (finding,) = server_queueing(run, None)
    assert finding.evidence["waiting_max"] == 2 and finding.evidence["running_max"] == 2
    assert finding.evidence["waiting_metric"] == "raw:server0.requests_waiting"
    assert finding.gain_ms == 800
    assert "max-num-seqs" in finding.suggestion


def test_a_server_with_an_empty_queue_is_silent_even_when_ttft_is_high() -> None:
    # The client held requests back (client_queueing's case): the server never had anyone waiting.
    rec = Recording()
    _requests(rec, [50, 450, 850, 1250], [0, 0, 0, 0])
    run = run_with({"server0.requests_waiting": [0, 0, 0, 0], "server0.requests_running": [1, 1, 1, 1]}, rec)
    assert server_queueing(run, None) == []


def test_a_brief_queue_that_cost_little_is_silent() -> None:
    rec = Recording()
    _requests(rec, [500, 500, 510, 505], [0, 0, 5, 3])
    run = run_with({"server0.requests_waiting": [1, 1, 0, 0]}, rec)
    assert server_queueing(run, None) == []


def test_ttft_split_or_why_not() -> None:
    rec = Recording()
    _requests(rec, [450], [400])
    tokens: dict[str, Any] = {"per_request": [{"request_id": 1}]}
    add_ttft_split(rec, tokens)
    row = tokens["per_request"][0]
    assert (row["server_queue_ms"], row["prefill_ms"], row["network_ms"]) == (400.0, 40.0, 10.0)
    assert row["ttft_split"] == "server-reported"
    bare = Recording()
    _requests(bare, [450], None)
    tokens = {"per_request": [{"request_id": 1}]}
    add_ttft_split(bare, tokens)
    assert tokens["per_request"][0]["server_queue_ms"] is None
    assert tokens["ttft_split"]["why_not"] == NO_FIELDS
