"""Service-level objectives per request and goodput: the requests that met every one of them.

An SLO is written "ttft_ms=200,tpot_ms=50,e2e_ms=2000" (upper bounds in ms, inclusive, as vLLM's benchmark
goodput counts them). `itl_ms` bounds a request's mean inter-token latency.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from workbench.analysis.per_request import RequestMetrics

SLO_KEYS = ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms")
_EXAMPLE = "ttft_ms=200,tpot_ms=50,e2e_ms=2000"


def parse_slo(text: str) -> dict[str, float]:
    """{key: limit_ms} from "key=value,..."; ValueError naming the bad part and the allowed keys."""
    if not text.strip():
        raise ValueError(f"empty SLO: expected e.g. {_EXAMPLE!r} ({_allowed()})")
    slo: dict[str, float] = {}
    for part in text.split(","):
        key, value = _parse_part(part)
        if key in slo:
            raise ValueError(f"SLO key {key!r} given twice in {text!r}")
        slo[key] = value
    return slo


def format_slo(slo: Mapping[str, float]) -> str:
    """The text `parse_slo` reads back into `slo`."""
    return ",".join(f"{key}={value:g}" for key, value in slo.items())


def goodput(requests: Sequence[RequestMetrics], slo: Mapping[str, float], window_s: float) -> dict[str, Any]:
    """How many of `requests` met every bound of `slo`, as a share and per second of `window_s`.

    A failed request never meets the SLO but counts in the denominator; a request whose metric is None
    (e.g. no TTFT for a non-streaming request) does not meet that bound. `violations` counts, per key,
    the successful requests that missed it; `failed` counts the failed ones.
    """
    _check_keys(slo)
    violations = dict.fromkeys(slo, 0)
    met = 0
    for request in requests:
        if request.failed:
            continue
        missed = [key for key, limit in slo.items() if not _meets(metric_value(request, key), limit)]
        for key in missed:
            violations[key] += 1
        met += not missed
    n = len(requests)
    return {
        "slo": dict(slo),
        "requests": n,
        "met": met,
        "share": met / n if n else None,
        "per_s": met / window_s if window_s > 0 else None,
        "violations": violations,
        "failed": sum(r.failed for r in requests),
    }


def metric_value(request: RequestMetrics, key: str) -> float | None:
    """The request's value of SLO key `key` in ms; `itl_ms` is its mean ITL."""
    if key == "itl_ms":
        return request.mean_itl_ms
    value: float | None = getattr(request, key)
    return value


def _meets(value: float | None, limit: float) -> bool:
    return value is not None and value <= limit


def _parse_part(part: str) -> tuple[str, float]:
    key, sep, raw = (piece.strip() for piece in part.partition("="))
    if not sep or key not in SLO_KEYS:
        raise ValueError(f"bad SLO part {part.strip()!r}: expected key=value with {_allowed()}")
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"bad SLO value in {part.strip()!r}: must be a positive number of ms ({_allowed()})")
    return key, value


def _check_keys(slo: Mapping[str, float]) -> None:
    unknown = [key for key in slo if key not in SLO_KEYS]
    if unknown:
        raise ValueError(f"unknown SLO key(s) {', '.join(unknown)} ({_allowed()})")


def _allowed() -> str:
    return "allowed keys: " + ", ".join(SLO_KEYS)
