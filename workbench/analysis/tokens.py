"""Token metrics over a run: throughput, latency statistics, the communication breakdown, goodput.

Per-request definitions live in `per_request` (re-exported here). Failed requests are counted and left
out of latency statistics and throughput; goodput counts them as misses (DESIGN.md, "Token metrics").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from workbench.analysis.breakdown import breakdown_summary, request_breakdown
from workbench.analysis.concurrency import concurrency_summary, last_seen_ns
from workbench.analysis.per_request import RequestMetrics, all_request_metrics, request_metrics
from workbench.analysis.slo import goodput
from workbench.analysis.stats import summarize
from workbench.model.events import Span
from workbench.model.recording import Recording

__all__ = ["UNKNOWN_MODEL", "RequestMetrics", "all_request_metrics", "request_metrics", "token_metrics"]

# The per-model key of requests whose span names no model (JSON keys must be strings).
UNKNOWN_MODEL = "(unknown)"


def token_metrics(recording: Recording, slo: Mapping[str, float] | None = None) -> dict[str, Any]:
    """Run-level token metrics, the same again per model, and one row per request.

    With `slo` (see `slo.parse_slo`), "goodput" is added overall and per model.
    """
    requests = all_request_metrics(recording)
    spans = {s.span_id: s for s in recording.spans if s.kind == "llm"}
    breakdowns = {r.request_id: request_breakdown(spans[r.request_id], r) for r in requests}
    open_end = last_seen_ns(recording)

    def aggregate(group: Sequence[RequestMetrics]) -> dict[str, Any]:
        group_spans = [spans[r.request_id] for r in group]
        return _aggregate(group, group_spans, breakdowns, slo, open_end)

    metrics = aggregate(requests)
    metrics["token_count_source"] = {str(r.request_id): r.token_count_source for r in requests}
    metrics["per_request"] = [_request_row(r, breakdowns[r.request_id]) for r in requests]
    metrics["per_model"] = {model: aggregate(group) for model, group in _by_model(requests).items()}
    return metrics


def _aggregate(
    requests: Sequence[RequestMetrics],
    spans: Sequence[Span],
    breakdowns: Mapping[int, dict[str, float | None]],
    slo: Mapping[str, float] | None,
    open_end_ns: int | None,
) -> dict[str, Any]:
    ok = [r for r in requests if not r.failed]
    output_tokens = sum(r.output_tokens for r in ok)
    window_s = _window_s(ok)
    out: dict[str, Any] = {
        "requests": len(requests),
        "failed_requests": len(requests) - len(ok),
        "non_streaming_requests": sum(not r.stream for r in requests),
        "output_tokens": output_tokens,
        "window_s": window_s,
        "output_tokens_per_s": output_tokens / window_s if window_s > 0 else None,
        "request_throughput_per_s": len(ok) / window_s if window_s > 0 else None,
        "ttft_ms": summarize([r.ttft_ms for r in ok if r.ttft_ms is not None]),
        "tpot_ms": summarize([r.tpot_ms for r in ok if r.tpot_ms is not None]),
        "itl_ms": summarize([gap for r in ok for gap in r.itl_ms]),
        "icl_ms": summarize([gap for r in ok for gap in r.icl_ms]),
        "e2e_ms": summarize([r.e2e_ms for r in ok if r.e2e_ms is not None]),
        "tokens_per_chunk": summarize([k for r in ok for k in r.tokens_per_chunk]),
        "breakdown_ms": breakdown_summary([breakdowns[r.request_id] for r in ok]),
        # Concurrency counts failed requests too: they occupied the client and the server all the same.
        "concurrency": concurrency_summary(spans, open_end_ns),
        "count_mismatch_requests": [r.request_id for r in requests if r.count_mismatch],
    }
    if slo is not None:
        out["goodput"] = goodput(requests, slo, window_s)
    return out


def _window_s(ok: Sequence[RequestMetrics]) -> float:
    """Seconds from the first send to the last arrival of the successful requests; 0.0 without arrivals."""
    arrivals = [r.last_token_ns for r in ok if r.last_token_ns is not None]
    return (max(arrivals) - min(r.send_ns for r in ok)) / 1e9 if arrivals else 0.0


def _by_model(requests: Sequence[RequestMetrics]) -> dict[str, list[RequestMetrics]]:
    groups: dict[str, list[RequestMetrics]] = defaultdict(list)
    for r in requests:
        groups[UNKNOWN_MODEL if r.model is None else str(r.model)].append(r)
    return dict(sorted(groups.items()))


def _request_row(r: RequestMetrics, breakdown: dict[str, float | None]) -> dict[str, Any]:
    row = asdict(r)
    for key in ("itl_ms", "icl_ms", "tokens_per_chunk"):
        row.pop(key)
    row["count_mismatch"] = r.count_mismatch
    row["mean_itl_ms"] = r.mean_itl_ms
    return {**row, **breakdown}
