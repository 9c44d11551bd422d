"""OpenTelemetry trace and span ids of a run, derived from the run's id and its spans' ids.

One run is one trace. The ids are a pure function of `run.id` (and a span's `span_id`), so exporting a
run twice gives the same trace, and whoever needs a span's ids before the export (a W3C `traceparent`
sent with the request the span stands for) computes them with these functions while the run records.
"""

from __future__ import annotations

import hashlib

# The key of the run's root span (the cell) when the run recorded none of its own: span ids start at 1.
ROOT_KEY = 0


def _digest(text: str, size: int) -> int:
    value = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=size).digest(), "big")
    return value or 1  # an all-zero id is invalid in W3C trace context and OTLP


def trace_id(run_id: str) -> int:
    """The 128-bit trace id of run `run_id`."""
    return _digest(f"fm-workbench trace {run_id}", 16)


def span_id(run_id: str, span_key: int) -> int:
    """The 64-bit span id of span `span_key` (a `Span.span_id`, or `ROOT_KEY`) of run `run_id`."""
    return _digest(f"fm-workbench span {run_id} {span_key}", 8)


def traceparent(run_id: str, span_key: int) -> str:
    """The W3C `traceparent` header naming span `span_key` of run `run_id` as the parent (sampled)."""
    return f"00-{trace_id(run_id):032x}-{span_id(run_id, span_key):016x}-01"
