"""The finding rules: each is a function of the run (and, when given, a baseline run) to findings.

A rule computes from the run's data only (spans, tokens, samples, ops, counters, metrics) and returns
nothing when its evidence is absent: a rule that cannot tell stays silent rather than guess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from workbench.analysis.findings.model import Finding
from workbench.model.run import Run

RuleFunction = Callable[[Run, Run | None], list[Finding]]


@dataclass(frozen=True)
class Rule:
    kind: str
    summary: str  # one line for --help and the README
    detect: RuleFunction


RULES: dict[str, Rule] = {}


def rule(kind: str, summary: str) -> Callable[[RuleFunction], RuleFunction]:
    """Register `detect` as the rule for findings of `kind`."""

    def register(detect: RuleFunction) -> RuleFunction:
        RULES[kind] = Rule(kind, summary, detect)
        return detect

    return register
