"""Response bodies and stream chunks, shaped exactly like OpenAI's (and vLLM's) for both endpoints."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from workbench.serve.protocol import Endpoint

FinishReason = str | None


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


@dataclass(frozen=True)
class Envelope:
    """What every chunk of one response repeats: id, object, created, model."""

    endpoint: Endpoint
    model: str
    id: str = ""
    created: int = field(default_factory=lambda: int(time.time()))

    def __post_init__(self) -> None:
        if not self.id:
            prefix = "chatcmpl-" if self.endpoint == "chat" else "cmpl-"
            object.__setattr__(self, "id", prefix + uuid.uuid4().hex)

    @property
    def chunk_object(self) -> str:
        return "chat.completion.chunk" if self.endpoint == "chat" else "text_completion"

    def chunk(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": self.chunk_object,
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }

    def role_choice(self) -> dict[str, Any] | None:
        """The role-only first chunk's choice (chat only): no content, so it never counts as a token."""
        if self.endpoint != "chat":
            return None
        return _choice("delta", {"role": "assistant", "content": ""}, None)

    def piece_choice(self, text: str, finish: FinishReason) -> dict[str, Any]:
        if self.endpoint == "chat":
            return _choice("delta", {"content": text} if text else {}, finish)
        return _choice("text", text, finish)

    def full_body(self, text: str, finish: FinishReason, counts: dict[str, int]) -> dict[str, Any]:
        if self.endpoint == "chat":
            choice = _choice("message", {"role": "assistant", "content": text}, finish)
            kind = "chat.completion"
        else:
            choice = _choice("text", text, finish)
            kind = "text_completion"
        body = self.chunk([choice])
        body["object"] = kind
        body["usage"] = counts
        return body


def _choice(key: str, value: object, finish: FinishReason) -> dict[str, Any]:
    return {"index": 0, key: value, "logprobs": None, "finish_reason": finish}
