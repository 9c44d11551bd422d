"""The client side of LLM communication: requests held back before they reach the wire, and streams read
more slowly than the server sends them.

Both read the HTTP hook's timestamps on each `llm` span (see `analysis/breakdown.py` and
`instrument/llm_call.py`): `send_ns` and the connect times for queueing, `decode_wait_ns` (time blocked
waiting for bytes between the first and last content token) for the stream's reader.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from workbench.analysis.breakdown import request_breakdown
from workbench.analysis.concurrency import concurrency_summary, last_seen_ns
from workbench.analysis.critical_path import NS_PER_MS, critical_path
from workbench.analysis.findings.model import Evidence, Finding, severity_of
from workbench.analysis.findings.registry import rule
from workbench.analysis.per_request import RequestMetrics, all_request_metrics
from workbench.analysis.stats import summarize
from workbench.model.events import Span
from workbench.model.recording import Recording
from workbench.model.run import Run

# Client overhead (queue + connect) under a fifth of what the user waits for the first token is the
# normal cost of an SDK call; above it, the client, not the server, decides the TTFT the user sees.
MIN_OVERHEAD_SHARE = 0.2
# Building the request and a loopback connect take ~1 ms; a wait below this is not worth a finding.
MIN_OVERHEAD_MS = 5.0
# A request whose connect took this long opened a new connection (a reused one connects in 0 ms).
NEW_CONNECTION_MS = 0.05
MAX_POINTERS = 8

# Decode phases shorter than this have too few chunks to tell a reader's pace from one slow chunk.
MIN_DECODE_MS = 20.0
# The reader waited for bytes less than a fifth of the decode phase: they were nearly always already
# buffered when it asked, so the server was ahead of it and the stream's pace was the reader's.
MAX_WAIT_SHARE = 0.2
# The speed-up of the reader's per-chunk work that the gain assumes (e.g. moving it off the loop, caching).
READER_SPEEDUP = 2.0


@dataclass(frozen=True)
class _Request:
    span: Span
    metrics: RequestMetrics
    queue_ms: float
    connect_ms: float
    critical_overhead_ms: float


@rule("client_queueing", "LLM requests wait in the client (pool, semaphore, connect) before they are sent")
def client_queueing(run: Run, baseline: Run | None = None) -> list[Finding]:
    requests = []
    for span, metrics, critical in _llm_requests(run.recording):
        if metrics.failed or metrics.first_token_ns is None or "send_ns" not in span.attrs:
            continue  # without a send time the client's part of the wait is not observable
        phases = request_breakdown(span, metrics)
        queue, connect = phases["queue_ms"] or 0.0, phases["connect_ms"] or 0.0
        # Only the wait before the request went out (queue and connect) is the client's.
        before_send = _critical_ns(critical, span.start_ns, int(span.attrs["send_ns"])) / NS_PER_MS
        requests.append(_Request(span, metrics, queue, connect, before_send))
    if not requests:
        return []
    overhead = [r.queue_ms + r.connect_ms for r in requests]
    # What the user waited for the first token: from their call, not from the send.
    user_ttft = [(r.metrics.first_token_ns - r.span.start_ns) / NS_PER_MS for r in requests]  # type: ignore[operator]
    mean_overhead, mean_user_ttft = sum(overhead) / len(overhead), sum(user_ttft) / len(user_ttft)
    if max(overhead) < MIN_OVERHEAD_MS or mean_overhead < MIN_OVERHEAD_SHARE * mean_user_ttft:
        return []
    concurrency = concurrency_summary([r.span for r in requests], last_seen_ns(run.recording))
    cause = _cause(requests, concurrency)
    gain = sum(r.critical_overhead_ms for r in requests)
    cell_ms = run.wall_s * 1000
    worst = sorted(requests, key=lambda r: -(r.queue_ms + r.connect_ms))[:MAX_POINTERS]
    return [
        Finding(
            kind="client_queueing",
            severity=severity_of(gain, cell_ms),
            title=f"requests waited {mean_overhead:.0f} ms on average in the client before being sent "
            f"({mean_overhead / mean_user_ttft:.0%} of the time to first token): {cause[0]}",
            evidence={
                "requests": len(requests),
                "queue_ms": summarize([r.queue_ms for r in requests]),
                "connect_ms": summarize([r.connect_ms for r in requests]),
                "ttft_ms": summarize([r.metrics.ttft_ms for r in requests if r.metrics.ttft_ms is not None]),
                "user_ttft_ms": summarize(user_ttft),
                "new_connections": sum(r.connect_ms > NEW_CONNECTION_MS for r in requests),
                "max_in_flight": concurrency["max_in_flight"],
                "max_on_the_wire": concurrency["max_on_the_wire"],
                "critical_overhead_ms": gain,
            },
            pointers=[_queue_pointer(r) for r in worst],
            suggestion=cause[1],
            gain_ms=gain,
            assumption="the client sends each request when it is made (a pool or semaphore as large as the "
            "concurrency, kept-alive connections) and the server answers it as fast as it did once sent",
        )
    ]


def _cause(requests: Sequence[_Request], concurrency: dict[str, float | int | None]) -> tuple[str, str]:
    """What held the requests back, from the measurements, and what to change."""
    in_flight, on_wire = concurrency["max_in_flight"] or 0, concurrency["max_on_the_wire"] or 0
    queue = sum(r.queue_ms for r in requests)
    connect = sum(r.connect_ms for r in requests)
    if in_flight > on_wire and queue >= connect:
        return (
            f"{in_flight} requests in flight but at most {on_wire} on the wire (a capped connection pool "
            "or semaphore)",
            f"raise the client's connection limit to the concurrency you run (httpx.Limits("
            f"max_connections={in_flight}) for the openai/httpx client), or the semaphore that caps it",
        )
    if connect > queue:
        return (
            "most of it opening connections (no keep-alive)",
            "reuse one client (and its pool of kept-alive connections) for all requests instead of "
            "creating a client, or a connection, per request; warm the pool before the timed work",
        )
    return (
        "most of it before the request was sent (the SDK's own work, a lock or a rate limiter)",
        "look at what runs between the call and the send: request building and validation, rate "
        "limiters, retries' back-off; build requests ahead of time or overlap them with other work",
    )


def _llm_requests(rec: Recording) -> Iterator[tuple[Span, RequestMetrics, list[tuple[int, int]]]]:
    """Each LLM request's span, its metrics, and the intervals where it was on the critical path."""
    spans = {s.span_id: s for s in rec.spans if s.kind == "llm"}
    if not spans:
        return
    critical: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for segment in critical_path(rec).segments:
        if segment.span_id in spans:
            critical[segment.span_id].append((segment.start_ns, segment.end_ns))
    for metrics in all_request_metrics(rec):
        yield spans[metrics.request_id], metrics, critical[metrics.request_id]


def _critical_ns(critical: list[tuple[int, int]], start_ns: int, end_ns: int) -> int:
    """How much of [start_ns, end_ns] lies on the critical path."""
    return sum(max(0, min(end, end_ns) - max(start, start_ns)) for start, end in critical)


def _queue_pointer(r: _Request) -> Evidence:
    send_ms = int(r.span.attrs["send_ns"]) / NS_PER_MS
    label = f"{r.span.name}: queued {r.queue_ms:.1f} ms, connecting {r.connect_ms:.1f} ms"
    return Evidence("request", label, r.span.start_ns / NS_PER_MS, send_ms, r.span.span_id)


@rule("slow_consumer", "a streamed response is read more slowly than the server sends it")
def slow_consumer(run: Run, baseline: Run | None = None) -> list[Finding]:
    slow = []
    for span, metrics, critical in _llm_requests(run.recording):
        wait = span.attrs.get("decode_wait_ns")
        if metrics.failed or not metrics.stream or wait is None or metrics.first_token_ns is None:
            continue  # captures without per-read waits (manual spans, older runs) cannot tell
        assert metrics.last_token_ns is not None
        decode_ns = metrics.last_token_ns - metrics.first_token_ns
        if decode_ns < MIN_DECODE_MS * NS_PER_MS or int(wait) > MAX_WAIT_SHARE * decode_ns:
            continue
        on_path = _critical_ns(critical, metrics.first_token_ns, metrics.last_token_ns)
        slow.append((span, metrics, decode_ns, int(wait), on_path))
    if not slow:
        return []
    # The reader's own time between reads; the share of it on the critical path is what delays the cell.
    away_ms = sum((d - w) / NS_PER_MS for _, _, d, w, _ in slow)
    gain = sum((d - w) * (p / d) for _, _, d, w, p in slow) / NS_PER_MS * (1 - 1 / READER_SPEEDUP)
    decode_ms = sum(d for _, _, d, _, _ in slow) / NS_PER_MS
    wait_ms = sum(w for _, _, _, w, _ in slow) / NS_PER_MS
    cell_ms = run.wall_s * 1000
    return [
        Finding(
            kind="slow_consumer",
            severity=severity_of(gain, cell_ms),
            title=f"{len(slow)} stream(s) read more slowly than the server sent them: the reader waited for "
            f"bytes {wait_ms / decode_ms:.0%} of the decode phase",
            evidence={
                "streams": len(slow),
                "decode_ms": decode_ms,
                "wait_ms": wait_ms,
                "reader_ms": away_ms,
                "wait_share": wait_ms / decode_ms,
                "mean_icl_ms": _mean([gap for _, m, _, _, _ in slow for gap in m.icl_ms]),
            },
            pointers=[
                Evidence(
                    "request",
                    f"{span.name}: waited {w / NS_PER_MS:.0f} of {d / NS_PER_MS:.0f} ms while decoding",
                    (m.first_token_ns or span.start_ns) / NS_PER_MS,
                    (m.last_token_ns or span.start_ns) / NS_PER_MS,
                    span.span_id,
                )
                for span, m, d, w, _ in slow[:MAX_POINTERS]
            ],
            suggestion="make the per-chunk work in the streaming loop cheaper, or hand chunks to a worker "
            "(a queue.Queue and a thread, an asyncio.Queue and a task) so the stream is drained at the "
            "server's pace; until then this stream's TPOT and inter-token latency measure the reader, "
            "not the server",
            gain_ms=gain,
            assumption=f"the reader's time between reads on the critical path made {READER_SPEEDUP:g}x "
            "faster, with the server still ahead of it (its bytes were already buffered)",
        )
    ]


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
