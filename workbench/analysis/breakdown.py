"""Where one LLM request's time went, from the timestamps the HTTP hook records on its span (ms).

    span.start -> [queue] -> connect_start -> [connect] -> send -> [headers] -> headers received
      -> [first_token] -> first content token -> [decode] -> last token -> [tail] -> span.end

The phases before `parse` add up to the span's duration when every timestamp is there. `parse_ms` is the
time the client SDK spent decoding the stream into objects; it happens during `decode`, so it is reported
beside the phases, not as one of them. A missing timestamp makes the phases that need it None: a manual
`wb.llm_request` span has only `decode_ms` and `tail_ms`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workbench.analysis.per_request import NS_PER_MS, RequestMetrics
from workbench.analysis.stats import summarize
from workbench.model.events import Span

PHASES = ("queue_ms", "connect_ms", "headers_ms", "first_token_ms", "decode_ms", "tail_ms", "parse_ms")


def request_breakdown(span: Span, metrics: RequestMetrics) -> dict[str, float | None]:
    """The phases of `PHASES`, in ms, for the request `span` whose token metrics are `metrics`."""
    attrs = span.attrs
    send = _ns(attrs, "send_ns")
    connect_start = _ns(attrs, "connect_start_ns")
    headers = _ns(attrs, "headers_ns")
    first, last = metrics.first_token_ns, metrics.last_token_ns
    # Queueing ends when the client starts to open a connection, or to send on a reused one.
    queue_end = connect_start if connect_start is not None else send
    # No connect timestamps beside a send time means a pooled connection was reused: connecting took 0.
    connect = None if send is None else _ms(connect_start if connect_start is not None else send, send)
    parse = _ns(attrs, "parse_ns")
    return {
        "queue_ms": _ms(span.start_ns, queue_end),
        "connect_ms": connect,
        "headers_ms": _ms(send, headers),
        "first_token_ms": _ms(headers, first),
        # A non-streaming body arrives at once: how long decoding took is not observable from here.
        "decode_ms": _ms(first, last) if metrics.stream else None,
        "tail_ms": _ms(last, span.end_ns),
        "parse_ms": None if parse is None else parse / NS_PER_MS,
    }


def breakdown_summary(rows: Sequence[Mapping[str, float | None]]) -> dict[str, dict[str, float | None]]:
    """Per phase, `summarize` over the requests where that phase was observed."""
    return {
        phase: summarize([value for row in rows if (value := row.get(phase)) is not None]) for phase in PHASES
    }


def _ns(attrs: Mapping[str, Any], key: str) -> int | None:
    value = attrs.get(key)
    return None if value is None else int(value)


def _ms(start_ns: int | None, end_ns: int | None) -> float | None:
    if start_ns is None or end_ns is None:
        return None
    return (end_ns - start_ns) / NS_PER_MS
