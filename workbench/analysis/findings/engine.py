"""Runs every rule on a run, ranks what they found by estimated gain; a failing rule never breaks a run."""

from __future__ import annotations

from collections.abc import Collection

from workbench.analysis.findings import rules as _rules  # noqa: F401  (registers the rules)
from workbench.analysis.findings.model import SEVERITIES, Finding
from workbench.analysis.findings.registry import RULES
from workbench.model.run import Run


class UnknownFindingKind(ValueError):
    """An --ignore-finding that names no rule; the message lists the kinds."""


def finding_kinds() -> list[str]:
    return sorted(RULES)


def check_kinds(kinds: Collection[str]) -> None:
    unknown = sorted(set(kinds) - set(RULES))
    if unknown:
        raise UnknownFindingKind(
            f"unknown finding kind(s) {', '.join(unknown)}; known: {', '.join(finding_kinds())}"
        )


def find_bottlenecks(
    run: Run, baseline: Run | None = None, ignore: Collection[str] = ()
) -> tuple[list[Finding], list[str]]:
    """The findings, largest estimated gain first, and a line for each rule that failed."""
    found: list[Finding] = []
    problems: list[str] = []
    for kind, entry in sorted(RULES.items()):
        if kind in ignore:
            continue
        try:
            found.extend(entry.detect(run, baseline))
        except Exception as error:  # a rule's bug must not cost the user their run
            problems.append(f"finding rule {kind!r} failed: {type(error).__name__}: {error}")
    rank = {severity: i for i, severity in enumerate(SEVERITIES)}
    found.sort(key=lambda f: (-f.gain_ms, rank[f.severity], f.kind))
    return found, problems
