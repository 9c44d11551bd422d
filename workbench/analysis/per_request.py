"""Token metrics of one LLM request, with the definitions in DESIGN.md (vLLM / GenAI-Perf).

TTFT = first chunk with content - send; E2E = last content chunk - send; TPOT = (E2E - TTFT) / (N_out - 1);
ITL: each chunk after the first, arriving D after the previous one with k tokens, gives k samples of D/k;
ICL: the raw gaps between chunks. "send" is the span's `send_ns` attribute when the HTTP hook recorded one
(the request started to go out on the socket), else the span's start.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise

from workbench.model.events import Span, TokenEvent
from workbench.model.recording import Recording

NS_PER_MS = 1e6


@dataclass(frozen=True)
class RequestMetrics:
    """One request's metrics; latencies in ms, None where not observable.

    `first_token_ns`/`last_token_ns` are the first and last content arrivals (for a non-streaming request
    both are the body's arrival). `tokens_per_chunk` are the counts ITL was computed with: the server's
    count spread over the chunks when the client only assumed one token per chunk.
    """

    request_id: int
    name: str
    model: str | None
    failed: bool
    stream: bool
    send_ns: int
    first_token_ns: int | None
    last_token_ns: int | None
    output_tokens: int
    token_count_source: str
    chunk_tokens: str | None
    client_tokens: int
    server_tokens: int | None
    ttft_ms: float | None
    e2e_ms: float | None
    tpot_ms: float | None
    itl_ms: list[float]
    icl_ms: list[float]
    tokens_per_chunk: list[int]
    depends_on: list[int]

    @property
    def count_mismatch(self) -> bool:
        # An assumed one-token-per-chunk count is no count at all, so disagreeing with it is expected.
        if self.chunk_tokens == "assumed":
            return False
        return self.server_tokens is not None and self.server_tokens != self.client_tokens

    @property
    def mean_itl_ms(self) -> float | None:
        return sum(self.itl_ms) / len(self.itl_ms) if self.itl_ms else None


def request_metrics(span: Span, arrivals: list[TokenEvent]) -> RequestMetrics:
    attrs = span.attrs
    chunks = sorted((t for t in arrivals if t.n_tokens > 0), key=lambda t: t.t_ns)
    client_tokens = sum(t.n_tokens for t in chunks)
    server = attrs.get("usage_output_tokens")
    server_tokens = None if server is None else int(server)
    n_out = client_tokens if server_tokens is None else server_tokens
    chunk_tokens = attrs.get("chunk_tokens")
    stream = attrs.get("stream") is not False
    sent = attrs.get("send_ns")
    send = span.start_ns if sent is None else int(sent)
    first = chunks[0].t_ns if chunks else None
    last = chunks[-1].t_ns if chunks else None
    counts = _effective_counts(chunks, chunk_tokens, server_tokens)
    e2e = None if last is None else (last - send) / NS_PER_MS
    # A non-streaming answer arrives whole: when its first token was ready is not observable.
    ttft = None if first is None or not stream else (first - send) / NS_PER_MS
    tpot = None
    if ttft is not None and e2e is not None and n_out >= 2:
        tpot = (e2e - ttft) / (n_out - 1)
    itl, icl = _gaps(chunks, counts) if stream else ([], [])
    return RequestMetrics(
        request_id=span.span_id,
        name=span.name,
        model=attrs.get("model"),
        failed="error" in attrs,
        stream=stream,
        send_ns=send,
        first_token_ns=first,
        last_token_ns=last,
        output_tokens=n_out,
        token_count_source=_count_source(server_tokens, chunk_tokens),
        chunk_tokens=chunk_tokens,
        client_tokens=client_tokens,
        server_tokens=server_tokens,
        ttft_ms=ttft,
        e2e_ms=e2e,
        tpot_ms=tpot,
        itl_ms=itl,
        icl_ms=icl,
        tokens_per_chunk=counts if stream else [],
        depends_on=[int(i) for i in attrs.get("depends_on") or []],
    )


def all_request_metrics(recording: Recording) -> list[RequestMetrics]:
    arrivals: dict[int, list[TokenEvent]] = defaultdict(list)
    for event in recording.tokens:
        arrivals[event.request_id].append(event)
    requests = [s for s in recording.spans if s.kind == "llm"]
    return [
        request_metrics(s, arrivals.get(s.span_id, [])) for s in sorted(requests, key=lambda s: s.start_ns)
    ]


def _count_source(server_tokens: int | None, chunk_tokens: str | None) -> str:
    if server_tokens is not None:
        return "server"
    return "assumed" if chunk_tokens == "assumed" else "client"


def _effective_counts(
    chunks: list[TokenEvent], chunk_tokens: str | None, server_tokens: int | None
) -> list[int]:
    counts = [c.n_tokens for c in chunks]
    client = sum(counts)
    if chunk_tokens != "assumed" or server_tokens is None or client == 0 or server_tokens == client:
        return counts
    return spread(counts, server_tokens)


def spread(counts: list[int], total: int) -> list[int]:
    """Integer counts proportional to `counts` that sum to `total` (each k scaled by total / sum).

    Rounding the cumulative sums, rather than each count, keeps the sum exact and spreads the remainders
    evenly: [1, 1, 1, 1] spread to 10 is [3, 2, 3, 2].
    """
    scale = total / sum(counts)
    out: list[int] = []
    cumulative = 0
    previous = 0
    for k in counts:
        cumulative += k
        rounded = math.floor(cumulative * scale + 0.5)
        out.append(rounded - previous)
        previous = rounded
    return out


def _gaps(chunks: list[TokenEvent], counts: list[int]) -> tuple[list[float], list[float]]:
    """ITL samples and inter-chunk gaps in ms.

    A chunk that a scaled count leaves with no token passes its gap on to the next chunk that has one (or,
    after the last such chunk, back to it), so the ITL samples still add up to last - first arrival.
    """
    itl: list[float] = []
    icl: list[float] = []
    carried = 0.0
    last_group: tuple[int, int, float] | None = None  # where the last samples start, their k, their gap
    for (previous, chunk), k in zip(pairwise(chunks), counts[1:], strict=True):
        gap_ms = (chunk.t_ns - previous.t_ns) / NS_PER_MS
        icl.append(gap_ms)
        carried += gap_ms
        if k > 0:
            last_group = (len(itl), k, carried)
            itl.extend([carried / k] * k)
            carried = 0.0
    if carried and last_group is not None:
        start, k, gap_ms = last_group
        itl[start:] = [(gap_ms + carried) / k] * k
    return itl, icl
