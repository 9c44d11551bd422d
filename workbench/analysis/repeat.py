"""Repeated runs (`%%fmprofile --repeat N`): per-repetition values, confidence intervals, and whether two
repeated runs differ by more than noise.

- The confidence interval of a mean is a two-sided 95% **Student t-interval** over the repetitions:
  mean ± t(0.975, n−1) · s / √n, with s the sample standard deviation (ddof=1). It assumes roughly
  normal repetition values; with one repetition there is no interval (None).
- Two repeated runs are compared with a two-sided **Mann-Whitney U** test on their per-repetition values
  (`scipy.stats.mannwhitneyu`, exact for small samples without ties): a difference is `significant` when
  p < 0.05. Identical values on both sides give p = 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench.analysis.per_request import RequestMetrics, all_request_metrics
from workbench.model.events import Span
from workbench.model.recording import Recording
from workbench.model.run import Run

REPETITION_KIND = "repetition"
CONFIDENCE = 0.95
ALPHA = 0.05
CI_METHOD = "student-t 95% interval of the mean over repetitions"
TEST_METHOD = "Mann-Whitney U, two-sided, p < 0.05"
# Per-repetition value -> (row of the comparison it backs, higher is better).
COMPARED = {"wall_ms": ("wall_s", False), "output_tokens_per_s": ("output_tokens_per_s", True)}


def repetition_spans(recording: Recording) -> list[Span]:
    """The repetitions that ran to the end (no error, closed by the loop itself), in order."""
    spans = [
        s
        for s in recording.spans
        if s.kind == REPETITION_KIND
        and s.end_ns is not None
        and "error" not in s.attrs
        and not s.attrs.get("unfinished")
    ]
    return sorted(spans, key=lambda s: s.start_ns)


def per_repetition(recording: Recording) -> dict[str, list[float]]:
    """wall_ms per repetition; with LLM requests also output tokens/s (Σ N_out over first send → last
    arrival of the repetition's requests) and the repetition's TTFT p50. A request belongs to the
    repetition it was sent in."""
    spans = repetition_spans(recording)
    values: dict[str, list[float]] = {"wall_ms": [s.duration_ns / 1e6 for s in spans]}
    requests = [r for r in all_request_metrics(recording) if not r.failed]
    if not requests:
        return values
    rates, ttfts = [], []
    for span in spans:
        assert span.end_ns is not None
        mine = [r for r in requests if span.start_ns <= r.send_ns < span.end_ns]
        rate = _tokens_per_s(mine)
        if rate is not None:
            rates.append(rate)
        firsts = [r.ttft_ms for r in mine if r.ttft_ms is not None]
        if firsts:
            ttfts.append(float(np.percentile(firsts, 50)))
    if len(rates) == len(spans):
        values["output_tokens_per_s"] = rates
    if len(ttfts) == len(spans):
        values["ttft_ms_p50"] = ttfts
    return values


def _tokens_per_s(requests: Sequence[RequestMetrics]) -> float | None:
    arrivals = [r.last_token_ns for r in requests if r.last_token_ns is not None]
    if not arrivals:
        return None
    window_s = (max(arrivals) - min(r.send_ns for r in requests)) / 1e9
    return sum(r.output_tokens for r in requests) / window_s if window_s > 0 else None


def mean_ci(values: Sequence[float], confidence: float = CONFIDENCE) -> dict[str, Any]:
    """values, n, mean, std (ddof=1), and the Student t-interval of the mean (None for n < 2)."""
    from scipy.stats import t

    array = np.asarray(values, dtype=float)
    n = len(array)
    out: dict[str, Any] = {"values": [float(v) for v in array], "n": n}
    if n == 0:
        return {**out, "mean": None, "std": None, "ci_low": None, "ci_high": None}
    mean = float(array.mean())
    if n < 2:
        return {**out, "mean": mean, "std": None, "ci_low": None, "ci_high": None}
    std = float(array.std(ddof=1))
    half = float(t.ppf((1 + confidence) / 2, n - 1)) * std / math.sqrt(n)
    return {**out, "mean": mean, "std": std, "ci_low": mean - half, "ci_high": mean + half}


def repeat_metrics(recording: Recording, n: int, warmup: int) -> dict[str, Any]:
    """`metrics["repeat"]`: the requested n and warm-ups, how many repetitions completed, and per value
    (wall_ms, output_tokens_per_s, ttft_ms_p50) its per-repetition values with mean and 95% CI."""
    values = per_repetition(recording)
    out: dict[str, Any] = {
        "n": n,
        "warmup": warmup,
        "completed": len(values["wall_ms"]),
        "ci_method": CI_METHOD,
    }
    for name, series in values.items():
        out[name] = mean_ci(series)
    return out


def mann_whitney_p(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided Mann-Whitney U p-value; None when a side has no values; 1.0 when all values are equal."""
    if not a or not b:
        return None
    from scipy.stats import mannwhitneyu

    p = float(mannwhitneyu(list(a), list(b), alternative="two-sided").pvalue)
    return 1.0 if math.isnan(p) else p


def significance(a: Run, b: Run) -> dict[str, dict[str, Any]]:
    """For two repeated runs: per compared value, the means, p-value and verdict, keyed by the value name
    (`wall_ms`, `output_tokens_per_s`). Empty unless both runs carry `metrics["repeat"]`."""
    ra, rb = a.metrics.get("repeat"), b.metrics.get("repeat")
    if not isinstance(ra, dict) or not isinstance(rb, dict):
        return {}
    out = {}
    for name, (row, higher) in COMPARED.items():
        va, vb = _values(ra, name), _values(rb, name)
        p = mann_whitney_p(va, vb)
        if p is None:
            continue
        out[name] = {
            "row": row,
            "higher_is_better": higher,
            "a": float(np.mean(va)),
            "b": float(np.mean(vb)),
            "p_value": p,
            "significant": p < ALPHA,
        }
    return out


def _values(record: dict[str, Any], name: str) -> list[float]:
    entry = record.get(name)
    values = entry.get("values") if isinstance(entry, dict) else None
    return [float(v) for v in values] if isinstance(values, list) else []


def add_significance(metrics: pd.DataFrame, a: Run, b: Run) -> pd.DataFrame:
    """The comparison's metric table with `p_value` and `significant` columns when both runs are repeated.

    Adds a `repeat.<value>` row per compared value (A and B are the means over repetitions) and carries its
    verdict to the run-level row it backs (`wall_s`, `output_tokens_per_s`): a difference that is not
    significant reads "same" whatever its size; a significant one reads "better" or "worse".
    """
    verdicts = significance(a, b)
    if not verdicts:
        return metrics
    frame = metrics.copy()
    frame["p_value"] = math.nan
    frame["significant"] = None
    frame["significant"] = frame["significant"].astype(object)
    rows = []
    for name, v in verdicts.items():
        delta = v["b"] - v["a"]
        pct = 100.0 * delta / abs(v["a"]) if v["a"] else math.nan
        verdict = _verdict(delta, v["significant"], v["higher_is_better"])
        rows.append(
            {
                "metric": f"repeat.{name}",
                "a": v["a"],
                "b": v["b"],
                "delta": delta,
                "delta_pct": pct,
                "direction": verdict,
                "p_value": v["p_value"],
                "significant": v["significant"],
            }
        )
        backed = frame["metric"] == v["row"]
        frame.loc[backed, "p_value"] = v["p_value"]
        frame.loc[backed, "significant"] = v["significant"]
        if not v["significant"]:
            frame.loc[backed, "direction"] = "same"
    extra = pd.DataFrame(rows, columns=list(frame.columns))
    return pd.concat([frame, extra], ignore_index=True)


def _verdict(delta: float, significant: bool, higher_is_better: bool) -> str:
    if not significant or delta == 0:
        return "same"
    return "better" if (delta > 0) == higher_is_better else "worse"
