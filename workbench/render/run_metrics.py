"""The analysis results a view-model needs: from `run.metrics`, or recomputed from the recording.

A run saved before an analysis existed (or by a session that skipped it) has no such key; its views are
built from the recording the same way the session would have, so old runs still render.
"""

from __future__ import annotations

from typing import Any

from workbench.analysis.critical_path import stage_metrics
from workbench.analysis.tokens import token_metrics
from workbench.model.run import Run


def has_llm_requests(run: Run) -> bool:
    return any(s.kind == "llm" for s in run.recording.spans)


def token_metrics_of(run: Run) -> dict[str, Any] | None:
    """`run.metrics["tokens"]`, else recomputed (with the run's --slo if any); None without requests."""
    metrics = run.metrics.get("tokens")
    if isinstance(metrics, dict):
        return metrics
    if not has_llm_requests(run):
        return None
    slo = run.options.get("slo")
    return token_metrics(run.recording, slo=slo if isinstance(slo, dict) and slo else None)


def stage_metrics_of(run: Run) -> dict[str, Any]:
    metrics = run.metrics.get("stages")
    if isinstance(metrics, dict):
        return metrics
    return stage_metrics(run.recording)
