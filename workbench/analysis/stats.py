"""Summary statistics with the names and definitions benchmark tools use (numpy linear percentiles)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PERCENTILES = (50, 90, 95, 99)


def summarize(values: Sequence[float]) -> dict[str, float | None]:
    """mean, std (population), p50, p90, p95, p99; all None for an empty sequence."""
    keys = ["mean", "std", *[f"p{p}" for p in PERCENTILES]]
    if len(values) == 0:
        return dict.fromkeys(keys)
    array = np.asarray(values, dtype=float)
    out: dict[str, float | None] = {"mean": float(array.mean()), "std": float(array.std())}
    for p, value in zip(PERCENTILES, np.percentile(array, PERCENTILES), strict=True):
        out[f"p{p}"] = float(value)
    return out
