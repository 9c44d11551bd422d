"""Budgets applied to saved runs: the baseline a user names, the result stored in `run.metrics["budget"]`.

Shared by the `%%fmprofile --budget` magic, `workbench profile/check` and the pytest plugin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.analysis.budget import BudgetResult, all_passed, evaluate, parse_budget
from workbench.model.run import Run
from workbench.render.budget_table import budget_table
from workbench.store import load_run, resolve_key


def check_run(
    run: Run, budget_text: str, baseline_key: str | None, store: Path | None
) -> tuple[list[BudgetResult], dict[str, Any]]:
    """Evaluate `budget_text` on `run` (against the baseline run named by `baseline_key`).

    Returns the results and their record for `run.metrics["budget"]`. A baseline that cannot be found is
    reported in the record (`baseline_error`); the relative budgets then fail with that reason.
    """
    budgets = parse_budget(budget_text)
    baseline, baseline_error = None, None
    if baseline_key is not None:
        try:
            baseline = load_run(resolve_key(baseline_key, store, before=run.id))
        except Exception as error:  # a missing or corrupt baseline is reported, never raised
            baseline_error = f"baseline {baseline_key!r}: {error}"
    results = evaluate(budgets, run, baseline)
    if baseline_error is not None:
        results = [_with_baseline_error(r, baseline_error) for r in results]
    record = {
        "text": budget_text,
        "baseline": None if baseline is None else {"id": baseline.id, "name": baseline.name},
        "baseline_error": baseline_error,
        "passed": all_passed(results),
        "results": [r.to_dict() for r in results],
    }
    return results, record


def table_of(record: dict[str, Any]) -> str:
    """The budget table for a `run.metrics["budget"]` record."""
    results = [BudgetResult(**r) for r in record.get("results") or []]
    baseline = record.get("baseline")
    label = f"{baseline['name']} {baseline['id']}" if isinstance(baseline, dict) else None
    return budget_table(results, label)


def _with_baseline_error(result: BudgetResult, reason: str) -> BudgetResult:
    if result.status != "error" or "needs a baseline" not in result.message:
        return result
    return BudgetResult(**{**result.to_dict(), "message": reason})
