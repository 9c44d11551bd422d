"""The OpenTelemetry GenAI semantic conventions for one LLM request of a run: its span's attributes and
the attributes its metric points carry.

Names follow the OpenTelemetry semantic conventions v1.41 (`docs/gen-ai/gen-ai-spans.md` and
`gen-ai-metrics.md`; the names `opentelemetry-semantic-conventions` 0.66b2 ships as constants). The GenAI
conventions have since moved to the `semantic-conventions-genai` repository, still in development
status. Content (prompts, completions) is never exported: the conventions make it opt-in.
"""

from __future__ import annotations

import re
from typing import Any

from workbench.analysis.per_request import RequestMetrics
from workbench.model.events import Span

OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
SYSTEM = "gen_ai.system"  # the name of `gen_ai.provider.name` before v1.37, still read by many backends
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
TOKEN_TYPE = "gen_ai.token.type"
STREAM = "gen_ai.request.stream"
TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
FINISH_REASONS = "gen_ai.response.finish_reasons"
ERROR_TYPE = "error.type"

# The kinds of span that are GenAI operations, and the operation of a span that names none.
GENAI_KINDS = ("llm", "embedding")
DEFAULT_OPERATION = {"llm": "chat", "embedding": "embeddings"}
# Sources that speak the OpenAI HTTP API (the SDK, or an OpenAI-style body sent with httpx).
OPENAI_SOURCES = ("openai", "httpx")
# Request parameters recorded by the hooks (see `instrument/openai_stream.py`) and their GenAI names.
REQUEST_PARAMS = {
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "max_output_tokens": "gen_ai.request.max_tokens",
    "max_new_tokens": "gen_ai.request.max_tokens",
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
}

# The span event at the first content chunk. The conventions define no streaming-chunk event yet
# ("Streaming chunks: TODO" in gen-ai-spans.md), so it carries our namespace, with the conventions'
# `gen_ai.response.time_to_first_chunk` as its attribute.
FIRST_CHUNK_EVENT = "fm_workbench.first_chunk"


def is_genai(span: Span) -> bool:
    return span.kind in GENAI_KINDS


def operation_name(span: Span) -> str:
    operation = span.attrs.get("operation")
    if isinstance(operation, str) and operation:
        return operation
    source = str(span.attrs.get("source") or "")
    if source.startswith("transformers"):
        return "text_completion"  # generate() continues a token sequence; no chat template is applied
    return DEFAULT_OPERATION.get(span.kind, "chat")


def provider_name(span: Span) -> str | None:
    """The provider when known: the user's `provider=` attribute, else "openai" for the OpenAI HTTP API
    (the conventions' value for OpenAI-compatible servers when the actual provider is unknown)."""
    provider = span.attrs.get("provider")
    if isinstance(provider, str) and provider:
        return provider
    return "openai" if span.attrs.get("source") in OPENAI_SOURCES else None


def span_name(span: Span) -> str:
    """`{gen_ai.operation.name} {gen_ai.request.model}`, as the conventions name an inference span."""
    model = span.attrs.get("model")
    return f"{operation_name(span)} {model}" if model else operation_name(span)


def error_type(error: Any) -> str:
    """A low-cardinality `error.type`: the HTTP status, the exception's class name, or `_OTHER`."""
    text = str(error)
    status = re.fullmatch(r"HTTP (\d{3})", text)
    if status:
        return status.group(1)
    name = text.split(":", 1)[0].strip()
    return name if re.fullmatch(r"[A-Za-z_][\w.]*", name) else "_OTHER"


def metric_attributes(span: Span) -> dict[str, Any]:
    """What every GenAI metric point of this request carries (`error.type` only on the duration)."""
    attrs: dict[str, Any] = {OPERATION: operation_name(span)}
    provider = provider_name(span)
    if provider:
        attrs[PROVIDER] = provider
    if span.attrs.get("model"):
        attrs[REQUEST_MODEL] = str(span.attrs["model"])
    if span.attrs.get("response_model"):
        attrs[RESPONSE_MODEL] = str(span.attrs["response_model"])
    return attrs


def span_attributes(span: Span, request: RequestMetrics | None) -> dict[str, Any]:
    attrs = metric_attributes(span)
    if PROVIDER in attrs:
        attrs[SYSTEM] = attrs[PROVIDER]
    if isinstance(span.attrs.get("stream"), bool):
        attrs[STREAM] = span.attrs["stream"]
    for key, name in REQUEST_PARAMS.items():
        value = span.attrs.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            attrs.setdefault(name, value)
    if isinstance(span.attrs.get("n"), int) and span.attrs["n"] != 1:
        attrs["gen_ai.request.choice.count"] = span.attrs["n"]
    if span.attrs.get("finish_reason"):
        attrs[FINISH_REASONS] = [str(span.attrs["finish_reason"])]
    if isinstance(span.attrs.get("input_tokens"), int):
        attrs[INPUT_TOKENS] = span.attrs["input_tokens"]
    if "error" in span.attrs:
        attrs[ERROR_TYPE] = error_type(span.attrs["error"])
    if request is not None:
        attrs.update(_measured(span, request))
    return attrs


def output_tokens(request: RequestMetrics) -> int | None:
    """The output count when one is known: the server's usage, else the tokens that arrived."""
    if request.server_tokens is not None:
        return request.server_tokens
    return request.client_tokens if request.client_tokens > 0 else None


def time_to_first_chunk_s(span: Span, request: RequestMetrics) -> float | None:
    """Seconds from the client issuing the request (the span's start) to the first content chunk, for a
    streamed request. Our `ttft_ms` starts at the send instead (client-side queueing is `queue_ms`)."""
    if not request.stream or request.first_token_ns is None:
        return None
    return max(0, request.first_token_ns - span.start_ns) / 1e9


def _measured(span: Span, request: RequestMetrics) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    n_out = output_tokens(request)
    if n_out is not None:
        attrs[OUTPUT_TOKENS] = n_out
        attrs["fm_workbench.output_tokens.source"] = request.token_count_source
    ttfc = time_to_first_chunk_s(span, request)
    if ttfc is not None:
        attrs[TIME_TO_FIRST_CHUNK] = ttfc
    for key in ("ttft_ms", "tpot_ms", "e2e_ms", "mean_itl_ms"):
        value = getattr(request, key)
        if value is not None:
            attrs[f"fm_workbench.{key}"] = float(value)
    return attrs
