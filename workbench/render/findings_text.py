"""Findings in plain text: for `workbench show --findings`, the text summary and untrusted viewers."""

from __future__ import annotations

import textwrap

from workbench.model.finding import Finding

WIDTH = 100
INDENT = "     "


def finding_headline(finding: Finding) -> str:
    gain = f"~{finding.gain_ms:,.0f} ms to gain" if finding.gain_ms > 0 else "no time estimate"
    return f"[{finding.severity} · {finding.kind}] {finding.title} ({gain})"


def findings_text(findings: list[Finding], limit: int | None = None) -> str:
    if not findings:
        return "no findings: no rule found a bottleneck in this run"
    lines = []
    for number, finding in enumerate(findings[:limit], start=1):
        lines.append(f"{number:>2}. {finding_headline(finding)}")
        numbers = evidence_line(finding)
        for label, text in (
            ("evidence", numbers),
            ("where", "; ".join(pointer_text(p.label, p.start_ms, p.end_ms) for p in finding.pointers[:4])),
            ("try", finding.suggestion),
            ("assuming", finding.assumption),
        ):
            if text:
                lines += textwrap.wrap(
                    f"{label}: {text}", WIDTH, initial_indent=INDENT, subsequent_indent=INDENT + "  "
                )
    if limit is not None and len(findings) > limit:
        lines.append(f"    ... and {len(findings) - limit} more (workbench show RUN --findings)")
    return "\n".join(lines)


def evidence_line(finding: Finding) -> str:
    return ", ".join(f"{key} {value_text(value)}" for key, value in finding.evidence.items())


def value_text(value: object) -> str:
    """A number as the findings show it: three significant digits, thousands separated; a list of records
    (e.g. the hottest functions with their times) as "name 472, other 229"."""
    if isinstance(value, list):
        return ", ".join(value_text(item) for item in value)
    if isinstance(value, dict):
        return " ".join(value_text(item) for item in value.values())
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def pointer_text(label: str, start_ms: float | None, end_ms: float | None) -> str:
    """Where a piece of evidence is: "retrieve 12.0–340.5 ms", "request 3 at 80.0 ms"."""
    if start_ms is None:
        return label
    if end_ms is None or end_ms == start_ms:
        return f"{label} at {start_ms:,.1f} ms"
    return f"{label} {start_ms:,.1f}–{end_ms:,.1f} ms"
