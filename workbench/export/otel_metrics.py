"""A run's LLM requests as the OpenTelemetry GenAI client metrics (semantic conventions v1.41,
`gen-ai-metrics.md`): what each histogram is and the values each request records into it.

- `gen_ai.client.operation.duration` (s): the request span, from the client issuing it to its end.
- `gen_ai.client.token.usage` ({token}): input and output counts, told apart by `gen_ai.token.type`.
- `gen_ai.client.operation.time_to_first_chunk` (s): from the client issuing a streamed request to its
  first content chunk.
- `gen_ai.client.operation.time_per_output_chunk` (s): each gap between consecutive chunks of a stream
  (our ICL, not our per-token ITL: a chunk may carry several tokens).
The chunk metrics are recorded for streamed requests only, as the conventions say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workbench.analysis.per_request import RequestMetrics, all_request_metrics
from workbench.export import otel_genai as genai
from workbench.model.run import Run

OPERATION_DURATION = "gen_ai.client.operation.duration"
TOKEN_USAGE = "gen_ai.client.token.usage"
TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"
TIME_PER_OUTPUT_CHUNK = "gen_ai.client.operation.time_per_output_chunk"

_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
_TOKEN_BUCKETS = tuple(float(4**i) for i in range(14))  # 1, 4, 16, ... 67108864
# The conventions give no buckets for the chunk metrics: those of their server-side counterparts
# (`gen_ai.server.time_to_first_token`, `gen_ai.server.time_per_output_token`).
_FIRST_CHUNK_BUCKETS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0
)  # fmt: skip
_PER_CHUNK_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)


@dataclass(frozen=True)
class Instrument:
    name: str
    unit: str
    description: str
    buckets: tuple[float, ...]


INSTRUMENTS = (
    Instrument(OPERATION_DURATION, "s", "GenAI operation duration.", _DURATION_BUCKETS),
    Instrument(TOKEN_USAGE, "{token}", "Number of input and output tokens used.", _TOKEN_BUCKETS),
    Instrument(
        TIME_TO_FIRST_CHUNK,
        "s",
        "Time to receive the first chunk, from when the client issues the generation request.",
        _FIRST_CHUNK_BUCKETS,
    ),
    Instrument(
        TIME_PER_OUTPUT_CHUNK,
        "s",
        "Time per output chunk, for each chunk received after the first one.",
        _PER_CHUNK_BUCKETS,
    ),
)


@dataclass(frozen=True)
class Observation:
    instrument: str
    value: float
    attributes: dict[str, Any]


def observations(run: Run, measured: Sequence[RequestMetrics] | None = None) -> list[Observation]:
    """Every value the run's LLM requests record, in request order (`measured`: see `otel_spans`)."""
    spans = {s.span_id: s for s in run.recording.spans}
    out: list[Observation] = []
    for request in all_request_metrics(run.recording) if measured is None else measured:
        span = spans[request.request_id]
        attrs = genai.metric_attributes(span)
        end = run.duration_ns if span.end_ns is None else span.end_ns
        duration_attrs = dict(attrs)
        if "error" in span.attrs:
            duration_attrs[genai.ERROR_TYPE] = genai.error_type(span.attrs["error"])
        out.append(Observation(OPERATION_DURATION, max(0, end - span.start_ns) / 1e9, duration_attrs))
        if isinstance(span.attrs.get("input_tokens"), int):
            usage = {**attrs, genai.TOKEN_TYPE: "input"}
            out.append(Observation(TOKEN_USAGE, float(span.attrs["input_tokens"]), usage))
        n_out = genai.output_tokens(request)
        if n_out is not None:
            out.append(Observation(TOKEN_USAGE, float(n_out), {**attrs, genai.TOKEN_TYPE: "output"}))
        ttfc = genai.time_to_first_chunk_s(span, request)
        if ttfc is not None:
            out.append(Observation(TIME_TO_FIRST_CHUNK, ttfc, attrs))
            out.extend(Observation(TIME_PER_OUTPUT_CHUNK, gap_ms / 1e3, attrs) for gap_ms in request.icl_ms)
    return out
