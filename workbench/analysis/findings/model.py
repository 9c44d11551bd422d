"""Findings' data classes (from the model) and the severity scale the rules share."""

from __future__ import annotations

from workbench.model.finding import SEVERITIES, Evidence, Finding

__all__ = ["SEVERITIES", "Evidence", "Finding", "severity_of"]


def severity_of(gain_ms: float, total_ms: float) -> str:
    """High when fixing it would save a fifth of the cell or more, medium from a twentieth, else low."""
    share = gain_ms / total_ms if total_ms > 0 else 0.0
    if share >= 0.2:
        return "high"
    return "medium" if share >= 0.05 else "low"
