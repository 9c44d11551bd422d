"""Token metrics per request and over a run, with the definitions in DESIGN.md (vLLM / GenAI-Perf).

TTFT = first chunk with content - send; E2E = last content chunk - send; TPOT = (E2E - TTFT) / (N_out - 1);
ITL: each chunk after the first, arriving D after the previous one with k tokens, gives k samples of D/k.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any

from workbench.analysis.stats import summarize
from workbench.model.events import Span, TokenEvent
from workbench.model.recording import Recording

NS_PER_MS = 1e6


@dataclass(frozen=True)
class RequestMetrics:
    request_id: int
    name: str
    model: str | None
    failed: bool
    send_ns: int
    first_token_ns: int | None
    last_token_ns: int | None
    output_tokens: int
    token_count_source: str
    client_tokens: int
    server_tokens: int | None
    ttft_ms: float | None
    e2e_ms: float | None
    tpot_ms: float | None
    itl_ms: list[float]
    icl_ms: list[float]
    tokens_per_chunk: list[int]

    @property
    def count_mismatch(self) -> bool:
        return self.server_tokens is not None and self.server_tokens != self.client_tokens


def request_metrics(span: Span, arrivals: list[TokenEvent]) -> RequestMetrics:
    chunks = sorted((t for t in arrivals if t.n_tokens > 0), key=lambda t: t.t_ns)
    client_tokens = sum(t.n_tokens for t in chunks)
    server_tokens = span.attrs.get("usage_output_tokens")
    n_out = int(server_tokens) if server_tokens is not None else client_tokens
    send = span.start_ns
    first = chunks[0].t_ns if chunks else None
    last = chunks[-1].t_ns if chunks else None
    ttft = None if first is None else (first - send) / NS_PER_MS
    e2e = None if last is None else (last - send) / NS_PER_MS
    tpot = None
    if ttft is not None and e2e is not None and n_out >= 2:
        tpot = (e2e - ttft) / (n_out - 1)
    itl: list[float] = []
    icl: list[float] = []
    for previous, chunk in pairwise(chunks):
        gap_ms = (chunk.t_ns - previous.t_ns) / NS_PER_MS
        icl.append(gap_ms)
        itl.extend([gap_ms / chunk.n_tokens] * chunk.n_tokens)
    return RequestMetrics(
        request_id=span.span_id,
        name=span.name,
        model=span.attrs.get("model"),
        failed="error" in span.attrs,
        send_ns=send,
        first_token_ns=first,
        last_token_ns=last,
        output_tokens=n_out,
        token_count_source="server" if server_tokens is not None else "client",
        client_tokens=client_tokens,
        server_tokens=None if server_tokens is None else int(server_tokens),
        ttft_ms=ttft,
        e2e_ms=e2e,
        tpot_ms=tpot,
        itl_ms=itl,
        icl_ms=icl,
        tokens_per_chunk=[c.n_tokens for c in chunks],
    )


def all_request_metrics(recording: Recording) -> list[RequestMetrics]:
    arrivals: dict[int, list[TokenEvent]] = defaultdict(list)
    for event in recording.tokens:
        arrivals[event.request_id].append(event)
    requests = [s for s in recording.spans if s.kind == "llm"]
    return [
        request_metrics(s, arrivals.get(s.span_id, [])) for s in sorted(requests, key=lambda s: s.start_ns)
    ]


def token_metrics(recording: Recording) -> dict[str, Any]:
    """Run-level token metrics: counts, throughput, and statistics of TTFT, TPOT, ITL and E2E in ms."""
    requests = all_request_metrics(recording)
    ok = [r for r in requests if not r.failed]
    output_tokens = sum(r.output_tokens for r in ok)
    arrivals = [r.last_token_ns for r in ok if r.last_token_ns is not None]
    window_s = (max(arrivals) - min(r.send_ns for r in ok)) / 1e9 if arrivals else 0.0
    return {
        "requests": len(requests),
        "failed_requests": len(requests) - len(ok),
        "output_tokens": output_tokens,
        "output_tokens_per_s": output_tokens / window_s if window_s > 0 else None,
        "request_throughput_per_s": len(ok) / window_s if window_s > 0 else None,
        "ttft_ms": summarize([r.ttft_ms for r in ok if r.ttft_ms is not None]),
        "tpot_ms": summarize([r.tpot_ms for r in ok if r.tpot_ms is not None]),
        "itl_ms": summarize([gap for r in ok for gap in r.itl_ms]),
        "e2e_ms": summarize([r.e2e_ms for r in ok if r.e2e_ms is not None]),
        "token_count_source": {str(r.request_id): r.token_count_source for r in requests},
        "count_mismatch_requests": [r.request_id for r in requests if r.count_mismatch],
        "per_request": [_request_row(r) for r in requests],
    }


def _request_row(r: RequestMetrics) -> dict[str, Any]:
    row = asdict(r)
    for key in ("itl_ms", "icl_ms", "tokens_per_chunk"):
        row.pop(key)
    return row
