"""The one interface the HTTP layer sees: a backend turns a prompt into timed pieces of text."""

from __future__ import annotations

import random
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Protocol


class RequestError(Exception):
    """A request the server refuses before any byte of the response is sent (HTTP 4xx)."""

    def __init__(self, message: str, *, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.status = status


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    max_tokens: int
    arrival: float
    """`loop.time()` when the request arrived; synthetic deadlines are counted from it."""
    headers: Mapping[str, str]
    """Lower-cased request headers, for per-request overrides."""
    rng: random.Random
    """This request's own generator (seed and arrival index), so concurrency cannot reorder draws."""


@dataclass(frozen=True)
class Piece:
    """One chunk's worth of output: the text and how many tokens it holds."""

    text: str
    tokens: int


class Backend(Protocol):
    @property
    def model_id(self) -> str: ...

    def open_stream(self, request: GenerationRequest) -> AsyncGenerator[Piece, None]:
        """Check the request now (RequestError before the response starts); the iterator yields each
        piece when it is produced, `request.max_tokens` tokens in all unless generation ends early."""
        ...
