"""What a server runs with: one frozen value built from the command line or from `start_server`.

Only the loopback interface is allowed. The server has no authentication, answers any model name, and
exists to inject delays, errors and dropped connections on purpose; on a shared or public interface
anyone on the network could drive it (or use it to burn CPU with the model backend).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

BackendName = Literal["synthetic", "model"]
BACKENDS: tuple[BackendName, ...] = ("synthetic", "model")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
BIND_ADDRESS = "127.0.0.1"


@dataclass(frozen=True)
class SyntheticTiming:
    """When a synthetic stream's chunks are due, in milliseconds.

    The first content chunk carries one token and is due `ttft_ms` after the request arrived; every
    later chunk carries `tokens_per_chunk` tokens (the last may carry fewer) and is due
    `k * token_delay_ms` after the chunk before it. Each delay gets its own uniform ±`jitter_ms`.
    """

    ttft_ms: float = 100.0
    token_delay_ms: float = 20.0
    tokens_per_chunk: int = 1
    jitter_ms: float = 0.0


@dataclass(frozen=True)
class Faults:
    """Shares of requests that fail: `error_rate` with HTTP 500, `drop_rate` (streamed only) mid-stream."""

    error_rate: float = 0.0
    drop_rate: float = 0.0


@dataclass(frozen=True)
class Scheduling:
    """vLLM's knobs that shape a queue: running slots, KV-cache capacity; and what it reports."""

    max_num_seqs: int = 256
    kv_cache_tokens: int = 65536
    per_request_metrics: bool = False
    profile_dir: Path | None = None
    # where each request's OpenTelemetry spans are appended, as OTLP JSON lines (otlp_spans.py)
    otlp_spans: Path | None = None


@dataclass(frozen=True)
class ServeConfig:
    backend: BackendName = "synthetic"
    host: str = BIND_ADDRESS
    port: int = 8000
    timing: SyntheticTiming = field(default_factory=SyntheticTiming)
    faults: Faults = field(default_factory=Faults)
    output_tokens: int = 32
    seed: int = 0
    model_dir: Path | None = None
    scheduling: Scheduling = field(default_factory=Scheduling)


def check_loopback(host: str) -> str:
    """The address to bind for `host`; ValueError for anything but the loopback interface (see above)."""
    if host not in LOOPBACK_HOSTS:
        raise ValueError(
            f"refusing to bind to {host!r}: the server has no authentication and injects faults on "
            f"purpose, so it only listens on {BIND_ADDRESS} (loopback)"
        )
    return BIND_ADDRESS
