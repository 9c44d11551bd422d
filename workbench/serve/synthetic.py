"""The synthetic backend: deterministic words on an exact, configurable schedule.

Token i is the word `tok{i}` (with a leading space after the first), so a client that counts words
counts tokens. Chunk deadlines are absolute times after the request's arrival: a late wake-up delays
one chunk, never the ones after it, and many concurrent requests each keep their own schedule.

Per-request overrides (headers, milliseconds): `x-workbench-ttft-ms`, `x-workbench-token-delay-ms`,
`x-workbench-tokens-per-chunk`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import random
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from workbench.serve.backend import GenerationRequest, Piece, RequestError
from workbench.serve.config import SyntheticTiming

HEADER_FIELDS = {
    "x-workbench-ttft-ms": "ttft_ms",
    "x-workbench-token-delay-ms": "token_delay_ms",
    "x-workbench-tokens-per-chunk": "tokens_per_chunk",
}


def chunk_sizes(n_tokens: int, tokens_per_chunk: int) -> list[int]:
    """One token first (the prefill's token, as vLLM streams it), then `tokens_per_chunk` at a time.

    With one token first, TPOT = (E2E - TTFT) / (N - 1) equals token_delay_ms whatever the chunk size.
    """
    if n_tokens <= 0:
        return []
    rest = n_tokens - 1
    sizes = [1] + [tokens_per_chunk] * (rest // tokens_per_chunk)
    if rest % tokens_per_chunk:
        sizes.append(rest % tokens_per_chunk)
    return sizes


def schedule(n_tokens: int, timing: SyntheticTiming, rng: random.Random) -> list[tuple[float, int]]:
    """(seconds after arrival, tokens) for each chunk; every delay gets its own uniform ±jitter."""
    due = 0.0
    plan = []
    for index, size in enumerate(chunk_sizes(n_tokens, timing.tokens_per_chunk)):
        delay_ms = timing.ttft_ms if index == 0 else size * timing.token_delay_ms
        if timing.jitter_ms:
            delay_ms += rng.uniform(-timing.jitter_ms, timing.jitter_ms)
        due += max(delay_ms, 0.0) / 1000
        plan.append((due, size))
    return plan


def words(start: int, count: int) -> str:
    return "".join(("" if i == 0 else " ") + f"tok{i}" for i in range(start, start + count))


def timing_for(headers: Mapping[str, str], base: SyntheticTiming) -> SyntheticTiming:
    changes: dict[str, Any] = {}
    for header, name in HEADER_FIELDS.items():
        text = headers.get(header)
        if text is None:
            continue
        try:
            value = int(text) if name == "tokens_per_chunk" else float(text)
        except ValueError:
            value = -1
        if value < (1 if name == "tokens_per_chunk" else 0) or not math.isfinite(value):
            raise RequestError(f"{header}: invalid value {text!r}", param=header)
        changes[name] = value
    return dataclasses.replace(base, **changes)


class SyntheticBackend:
    def __init__(self, timing: SyntheticTiming, model_id: str = "synthetic") -> None:
        self.timing = timing
        self._model_id = model_id

    @property
    def model_id(self) -> str:
        return self._model_id

    def open_stream(self, request: GenerationRequest) -> AsyncGenerator[Piece, None]:
        timing = timing_for(request.headers, self.timing)
        return self._pieces(request.arrival, schedule(request.max_tokens, timing, request.rng))

    async def _pieces(self, arrival: float, plan: list[tuple[float, int]]) -> AsyncGenerator[Piece, None]:
        loop = asyncio.get_running_loop()
        produced = 0
        for due, size in plan:
            wait = arrival + due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            yield Piece(words(produced, size), size)
            produced += size
