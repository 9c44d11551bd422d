"""What an OpenTelemetry span of an instrumented app becomes in a run: its kind, model, token counts and the
attributes kept (never prompt or completion text unless `--capture-text`). Pure functions of attributes.

The kind comes from OpenInference's `openinference.span.kind` when present, else from the GenAI semantic
conventions' `gen_ai.operation.name`; anything else is a `chain` stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OPENINFERENCE_KIND = "openinference.span.kind"
OPERATION_NAME = "gen_ai.operation.name"

OPENINFERENCE_KINDS = {
    "LLM": "llm",
    "EMBEDDING": "embedding",
    "RETRIEVER": "retrieval",
    "RERANKER": "retrieval",
    "TOOL": "tool",
    "CHAIN": "chain",
    "AGENT": "agent",
    "GUARDRAIL": "chain",
    "EVALUATOR": "chain",
    "PROMPT": "prompt",
}
OPERATION_KINDS = {
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "embeddings": "embedding",
    "execute_tool": "tool",
    "invoke_agent": "agent",
    "create_agent": "agent",
    "retrieval": "retrieval",
}
REQUEST_KINDS = ("llm", "embedding")

MODEL_KEYS = ("gen_ai.request.model", "llm.model_name", "embedding.model_name", "gen_ai.response.model")
INPUT_TOKEN_KEYS = ("gen_ai.usage.input_tokens", "llm.token_count.prompt", "gen_ai.usage.prompt_tokens")
OUTPUT_TOKEN_KEYS = (
    "gen_ai.usage.output_tokens",
    "llm.token_count.completion",
    "gen_ai.usage.completion_tokens",
)
# Attribute name prefixes that carry content: prompts, completions, documents, tool arguments, vectors.
CONTENT_PREFIXES = (
    "input.value",
    "output.value",
    "llm.input_messages",
    "llm.output_messages",
    "llm.prompts",
    "llm.prompt_template",
    "llm.tools",
    "gen_ai.prompt",
    "gen_ai.completion",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "retrieval.documents",
    "reranker.",
    "embedding.embeddings",
    "embedding.text",
    "tool.parameters",
    "tool_call.",
    "message.",
)
MAX_ATTRS = 64
MAX_TEXT = 300


def span_kind(attributes: Mapping[str, Any]) -> str:
    """Our span kind for an OTel span with these attributes."""
    kind = attributes.get(OPENINFERENCE_KIND)
    if isinstance(kind, str) and kind.upper() in OPENINFERENCE_KINDS:
        return OPENINFERENCE_KINDS[kind.upper()]
    operation = attributes.get(OPERATION_NAME)
    if isinstance(operation, str) and operation in OPERATION_KINDS:
        return OPERATION_KINDS[operation]
    return "chain"


def model_of(attributes: Mapping[str, Any]) -> str | None:
    for key in MODEL_KEYS:
        value = attributes.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _first_int(attributes: Mapping[str, Any], keys: tuple[str, ...]) -> int | None:
    for key in keys:
        value = attributes.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def is_content(key: str) -> bool:
    return key.startswith(CONTENT_PREFIXES)


def kept_attributes(attributes: Mapping[str, Any], capture_text: bool) -> dict[str, Any]:
    """The span's attributes as plain values (strings cut short), content left out unless asked for."""
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if len(out) >= MAX_ATTRS:
            break
        if not capture_text and is_content(key):
            continue
        if isinstance(value, str):
            out[key] = value[:MAX_TEXT]
        elif isinstance(value, bool | int | float):
            out[key] = value
        elif isinstance(value, list | tuple):
            out[key] = [v[:MAX_TEXT] if isinstance(v, str) else v for v in list(value)[:16]]
    return out


def run_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Our own attribute names for what the OTel span says about a model call (model, token counts)."""
    out: dict[str, Any] = {}
    model = model_of(attributes)
    if model is not None:
        out["model"] = model
    operation = attributes.get(OPERATION_NAME)
    if isinstance(operation, str):
        out["operation"] = operation
    tokens_in = _first_int(attributes, INPUT_TOKEN_KEYS)
    if tokens_in is not None:
        out["input_tokens"] = tokens_in
    tokens_out = _first_int(attributes, OUTPUT_TOKEN_KEYS)
    if tokens_out is not None:
        out["usage_output_tokens"] = tokens_out
    return out
