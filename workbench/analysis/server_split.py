"""Where each request's time to first token went, when the server says so (vLLM's per-request metrics).

The client measures TTFT from the moment the request is written to the socket (`t_send`); before that,
`queue_ms + connect_ms` is the client's own queueing. vLLM's `metrics` object (server started with
`--enable-per-request-metrics`; a stream must ask for `stream_options.include_usage`) gives the server's
`queue_time_ms` (WAITING) and `time_to_first_token_ms` (scheduled to first token: the prefill), and
`generation_time_ms` (first to last token: the decode). So, per request:

    client queue = queue_ms + connect_ms                      (before the send; the client's)
    server queue = queue_time_ms
    prefill      = time_to_first_token_ms
    network      = TTFT - server queue - prefill               (both directions, tokenisation, framing)
    decode       = generation_time_ms                          (the server's; the client sees decode_ms)

Two clocks in two processes: `network` can come out slightly negative on loopback; it is kept as is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workbench.analysis.breakdown import request_breakdown
from workbench.analysis.per_request import RequestMetrics, all_request_metrics
from workbench.analysis.stats import summarize
from workbench.model.events import Span
from workbench.model.recording import Recording

PARTS = ("client_queue_ms", "network_ms", "server_queue_ms", "prefill_ms", "server_decode_ms")
NO_FIELDS = (
    "the server did not report per-request timings: vLLM reports them with --enable-per-request-metrics "
    "(`workbench serve` too), and a stream only in its final usage chunk "
    "(stream_options={'include_usage': True})"
)
NO_TTFT = "no first token was received"
NO_SEND = "the request's send time was not recorded (not an HTTP request the workbench captured)"
NULL_FIELDS = "the server's metrics object has no timings for it (n > 1, or its stats logging is off)"


def ttft_split(span: Span, metrics: RequestMetrics) -> tuple[dict[str, float | None] | None, str]:
    """(the parts of `PARTS` in ms, "") or (None, why the split is not available)."""
    reported = span.attrs.get("server_metrics")
    if not isinstance(reported, Mapping):
        return None, NO_FIELDS
    if metrics.ttft_ms is None:
        return None, NO_TTFT
    if "send_ns" not in span.attrs:
        return None, NO_SEND
    queue, prefill = _number(reported, "queue_time_ms"), _number(reported, "time_to_first_token_ms")
    if queue is None or prefill is None:
        return None, NULL_FIELDS
    phases = request_breakdown(span, metrics)
    client = (phases["queue_ms"] or 0.0) + (phases["connect_ms"] or 0.0)
    return {
        "client_queue_ms": client,
        "network_ms": metrics.ttft_ms - queue - prefill,
        "server_queue_ms": queue,
        "prefill_ms": prefill,
        "server_decode_ms": _number(reported, "generation_time_ms"),
    }, ""


def split_summary(
    splits: Sequence[tuple[dict[str, float | None] | None, str]],
) -> dict[str, Any]:
    """Over requests: how many have a split, the mean and percentiles of each part, and why not, if not."""
    have = [split for split, _ in splits if split is not None]
    reasons = sorted({why for split, why in splits if split is None})
    return {
        "requests": len(have),
        "not_available": len(splits) - len(have),
        "why_not": reasons[0] if reasons and not have else (reasons or None),
        "parts_ms": {
            part: summarize([v for split in have if (v := split.get(part)) is not None]) for part in PARTS
        },
    }


def _number(values: Mapping[str, Any], key: str) -> float | None:
    value = values.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def add_ttft_split(recording: Recording, tokens: dict[str, Any]) -> None:
    """Adds the split to each of `tokens["per_request"]`'s rows (`ttft_split` says why when absent) and
    its summary as `tokens["ttft_split"]`, for runs where some request went to a server."""
    spans = {s.span_id: s for s in recording.spans if s.kind == "llm"}
    by_id = {m.request_id: m for m in all_request_metrics(recording)}
    splits = []
    for row in tokens.get("per_request") or []:
        span, metrics = spans.get(row.get("request_id")), by_id.get(row.get("request_id"))
        if span is None or metrics is None or "send_ns" not in span.attrs:
            continue
        split, why = ttft_split(span, metrics)
        splits.append((split, why))
        row.update({part: None for part in PARTS} | (split or {}))
        row["ttft_split"] = "server-reported" if split is not None else f"not available: {why}"
    if splits:
        tokens["ttft_split"] = split_summary(splits)
