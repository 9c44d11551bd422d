"""A regression against a baseline run: the cell got slower, and what got slower inside it.

The cell's wall time is split exactly by its critical path (each instant belongs to one span's own code),
so the change in each stage's critical-path time attributes the change in wall time without counting
nested spans twice. Function (CPU samples) and kernel deltas from `analysis.diff.compare` come beside it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import pandas as pd

from workbench.analysis.critical_path import NS_PER_MS, critical_path
from workbench.analysis.diff import compare
from workbench.analysis.findings.model import Evidence, Finding, severity_of
from workbench.analysis.findings.registry import rule
from workbench.analysis.repeat import significance
from workbench.model.run import Run

# Two single runs of the same pure-Python cell differed by up to 16% on a loaded 2-core VM (scheduling,
# caches, other processes); a fifth more wall time is beyond that. Repeated runs (--repeat) use their own
# significance test instead, and catch smaller regressions.
MIN_REGRESSION_PCT = 20.0
# Below this a change is timer and scheduler noise however short the cell.
MIN_REGRESSION_MS = 20.0
TOP_CONTRIBUTORS = 3
MAX_SPAN_POINTERS = 5


@rule("regression", "the cell is slower than the baseline run; the stages, functions and kernels that grew")
def regression(run: Run, baseline: Run | None = None) -> list[Finding]:
    if baseline is None:
        return []
    before_ms, after_ms, noise = _wall_ms(baseline, run)
    delta_ms = after_ms - before_ms
    pct = 100.0 * delta_ms / before_ms if before_ms > 0 else math.inf
    if noise is not None and not noise["significant"]:
        return []
    if noise is None and (delta_ms < MIN_REGRESSION_MS or pct < MIN_REGRESSION_PCT):
        return []
    if delta_ms <= 0:
        return []
    diff = compare(baseline, run)
    stages = _stage_deltas(baseline, run)
    functions = _function_deltas(diff.functions)
    kernels = _kernel_deltas(diff.kernels)
    top = stages[0] if stages and stages[0]["delta_ms"] > 0 else None
    gain = min(top["delta_ms"], delta_ms) if top is not None else 0.0
    cell_ms = run.wall_s * 1000
    culprit = f"; most of it in {top['kind']} {top['name']!r} (+{top['delta_ms']:.0f} ms)" if top else ""
    return [
        Finding(
            kind="regression",
            severity=severity_of(gain, cell_ms),
            title=f"{delta_ms:.0f} ms ({pct:+.0f}%) slower than the baseline {baseline.id}{culprit}",
            evidence={
                "baseline": baseline.id,
                "baseline_wall_ms": before_ms,
                "wall_ms": after_ms,
                "delta_ms": delta_ms,
                "delta_pct": pct,
                "p_value": None if noise is None else noise["p_value"],
                "stages": stages[:TOP_CONTRIBUTORS],
                "functions": functions[:TOP_CONTRIBUTORS],
                "kernels": kernels[:TOP_CONTRIBUTORS],
                "latency_deltas": _latency_deltas(diff.metrics),
            },
            pointers=_pointers(run, top, functions, kernels),
            suggestion="look at what changed in the top contributor since the baseline (its code, its "
            "inputs' size, the model or server it calls); `workbench compare` shows the full differential "
            "flame graph",
            gain_ms=gain,
            assumption="restoring the top contributor's critical-path time to the baseline's removes that "
            "much of the regression; the other stages stay as they are",
        )
    ]


def _wall_ms(baseline: Run, run: Run) -> tuple[float, float, dict[str, Any] | None]:
    """Wall time before and after, in ms; from repetition means with a significance test when both runs
    repeated the cell, else the single measurements."""
    tested = significance(baseline, run).get("wall_ms")
    if tested is not None:
        return float(tested["a"]), float(tested["b"]), tested
    return baseline.wall_s * 1000, run.wall_s * 1000, None


def _stage_deltas(baseline: Run, run: Run) -> list[dict[str, Any]]:
    """Critical-path time per (name, kind) in both runs, largest growth first."""
    before, after = _critical_by_stage(baseline), _critical_by_stage(run)
    rows: list[dict[str, Any]] = []
    for key in set(before) | set(after):
        a, b = before.get(key, 0.0), after.get(key, 0.0)
        rows.append({"name": key[0], "kind": key[1], "baseline_ms": a, "ms": b, "delta_ms": b - a})
    rows.sort(key=lambda r: (-r["delta_ms"], r["name"]))
    return rows


def _critical_by_stage(run: Run) -> dict[tuple[str, str], float]:
    totals: dict[tuple[str, str], float] = defaultdict(float)
    for segment in critical_path(run.recording).segments:
        # The root span is named after its run: its own code lines up across runs under one name.
        totals[(segment.name, segment.kind)] += segment.duration_ns / NS_PER_MS
    return dict(totals)


def _function_deltas(functions: pd.DataFrame) -> list[dict[str, Any]]:
    """Functions whose sampled self time grew, largest first (ms, not shares: the cell's length changed)."""
    rows = []
    for row in functions.to_dict("records"):
        a = 0.0 if _missing(row["self_ms_a"]) else float(row["self_ms_a"])
        b = 0.0 if _missing(row["self_ms_b"]) else float(row["self_ms_b"])
        if b > a:
            rows.append({"function": row["function"], "file": row["file"], "baseline_ms": a, "ms": b,
                         "delta_ms": b - a})  # fmt: skip
    rows.sort(key=lambda r: -r["delta_ms"])
    return rows


def _kernel_deltas(kernels: pd.DataFrame) -> list[dict[str, Any]]:
    rows = [
        {"name": r["name"], "baseline_ms": r["total_ms_a"], "ms": r["total_ms_b"], "delta_ms": r["delta_ms"]}
        for r in kernels.to_dict("records")
        if r["delta_ms"] > 0
    ]
    rows.sort(key=lambda r: -r["delta_ms"])
    return rows


def _latency_deltas(metrics: pd.DataFrame) -> dict[str, float]:
    names = ("ttft_ms.p50", "e2e_ms.p50", "tpot_ms.p50")
    rows = metrics[metrics["metric"].isin(names)]
    return {str(r["metric"]): float(r["delta"]) for r in rows.to_dict("records") if not _missing(r["delta"])}


def _pointers(
    run: Run, top: dict[str, Any] | None, functions: list[dict[str, Any]], kernels: list[dict[str, Any]]
) -> list[Evidence]:
    pointers = []
    if top is not None:
        for segment in critical_path(run.recording).segments:
            if (segment.name, segment.kind) == (top["name"], top["kind"]):
                label = f"{segment.name} on the critical path"
                start, end = segment.start_ns / NS_PER_MS, segment.end_ns / NS_PER_MS
                pointers.append(Evidence("span", label, start, end, segment.span_id))
                if len(pointers) == MAX_SPAN_POINTERS:
                    break
    for row in functions[:TOP_CONTRIBUTORS]:
        label = f"{row['function']}: +{row['delta_ms']:.0f} ms self time"
        pointers.append(Evidence("frame", label, ref=row["function"]))
    for row in kernels[:TOP_CONTRIBUTORS]:
        pointers.append(Evidence("kernel", f"{row['name']}: +{row['delta_ms']:.1f} ms", ref=row["name"]))
    return pointers


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
