"""Bottleneck findings: typed `Finding`s with evidence, a suggestion and an estimated gain, from rules
that read only the run's own data (see `rules/`)."""

from workbench.analysis.findings.engine import (
    UnknownFindingKind,
    check_kinds,
    find_bottlenecks,
    finding_kinds,
)
from workbench.analysis.findings.model import Evidence, Finding, severity_of
from workbench.analysis.findings.registry import RULES, rule

__all__ = [
    "RULES",
    "Evidence",
    "Finding",
    "UnknownFindingKind",
    "check_kinds",
    "find_bottlenecks",
    "finding_kinds",
    "rule",
    "severity_of",
]
