"""The budget table: one plain-text line per budget (metric, limit, actual, baseline, pass/FAIL)."""

from __future__ import annotations

from collections.abc import Sequence

from workbench.analysis.budget import BudgetResult

HEADER = ("budget", "limit", "actual", "baseline", "result")


def budget_table(results: Sequence[BudgetResult], baseline_label: str | None = None) -> str:
    """The table, a line of reasons for what did not pass, and a verdict line."""
    rows = [HEADER] + [
        (r.budget, _number(r.limit), _number(r.actual), _number(r.baseline), r.status) for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = ["  ".join(_align(cell, widths[i], i) for i, cell in enumerate(row)).rstrip() for row in rows]
    for r in results:
        if not r.passed:
            lines.append(f"  {r.status}: {r.budget}: {r.message}")
    failed = sum(not r.passed for r in results)
    against = f" (baseline {baseline_label})" if baseline_label else ""
    count = len(results)
    verdict = f"budget: {failed} of {count} FAILED" if failed else f"budget: all {count} passed"
    lines.append(verdict + against)
    return "\n".join(lines)


def _align(cell: str, width: int, column: int) -> str:
    return cell.ljust(width) if column in (0, len(HEADER) - 1) else cell.rjust(width)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.4g}"
