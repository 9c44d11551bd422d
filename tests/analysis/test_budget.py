"""The budget grammar, and budgets evaluated on real profiled runs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import workbench as wb
from workbench.analysis.budget import Budget, BudgetError, evaluate, parse_budget
from workbench.session.budget_check import check_run, table_of


def sleeping_run(store: Path, seconds: float, name: str = "sleeper") -> wb.Run:
    with wb.profile(name=name, store=store, cpu=False) as run:
        time.sleep(seconds)
    return run


def streaming_run(store: Path, gap_s: float, name: str = "stream") -> wb.Run:
    with wb.profile(name=name, store=store, cpu=False), wb.llm_request(model="m") as request:
        time.sleep(gap_s)
        for _ in range(4):
            request.chunk(1)
            time.sleep(gap_s)
    return run_of(store)


def run_of(store: Path) -> wb.Run:
    return wb.load_run(str(wb.runs(store)["path"].iloc[-1]))


def test_absolute_and_relative_clauses_with_both_separators() -> None:
    budgets = parse_budget(" ttft_ms.p90<=250, output_tokens_per_s>=40; wall_s<2.5 ,e2e_ms.p50<=+10%;")
    assert budgets == [
        Budget("ttft_ms.p90", ("tokens", "ttft_ms", "p90"), "<=", 250.0),
        Budget("output_tokens_per_s", ("tokens", "output_tokens_per_s"), ">=", 40.0),
        Budget("wall_s", ("wall_s",), "<", 2.5),
        Budget("e2e_ms.p50", ("tokens", "e2e_ms", "p50"), "<=", 10.0, relative=True),
    ]
    assert [str(b) for b in budgets] == [
        "ttft_ms.p90<=250", "output_tokens_per_s>=40", "wall_s<2.5", "e2e_ms.p50<=+10%"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("goodput.share>=-5%", ("tokens", "goodput", "share")),
        ("stages.per_kind.llm.critical_ms<5", ("stages", "per_kind", "llm", "critical_ms")),
        ("cpu.samples>1", ("cpu", "samples")),
        ("breakdown_ms.decode_ms.p50<1e3", ("tokens", "breakdown_ms", "decode_ms", "p50")),
        ("per_model.gpt-4o.ttft_ms.p50<1", ("tokens", "per_model", "gpt-4o", "ttft_ms", "p50")),
        ("metrics.gpu.busy_share>0.5", ("gpu", "busy_share")),
    ],
)
def test_metric_lookup_rules(text: str, path: tuple[str, ...]) -> None:
    (budget,) = parse_budget(text)
    assert budget.path == path


@pytest.mark.parametrize(
    ("text", "caret", "expected"),
    [
        ("ttft_ms.p90=250", 11, "expected a comparison <=, <, >= or >"),
        ("ttft_ms.p90<=abc", 13, "expected a number"),
        ("wall_s<=10%", 8, "needs a sign"),
        ("wall_s<=10ms", 10, "no units"),
        ("wall_s<=1 wall_s<=2", 10, "expected ',' or ';'"),
        ("wall_s<=1,,wall_s<=2", 10, "expected a metric name"),
        ("ttft_ms<=3", 7, "is a distribution: add a statistic"),
        ("e2e_ms.p91<=3", 7, "unknown statistic 'p91'"),
        ("wall_s<=1, latency<=3", 11, "unknown metric 'latency'; known names: wall_s"),
        ("   ", 3, "empty budget"),
    ],
)
def test_errors_point_at_the_offending_character(text: str, caret: int, expected: str) -> None:
    with pytest.raises(BudgetError) as caught:
        parse_budget(text)
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.position == caret, str(error)
    assert expected in str(error)
    lines = str(error).splitlines()
    assert lines[1] == f"  {text}" and lines[2] == "  " + " " * caret + "^"


def test_a_slow_block_fails_an_absolute_budget_and_a_fast_one_passes(tmp_path: Path) -> None:
    slow = sleeping_run(tmp_path, 0.2)
    fast = sleeping_run(tmp_path, 0.0)
    budgets = parse_budget("wall_s<=0.1")
    (failed,) = evaluate(budgets, slow)
    (passed,) = evaluate(budgets, fast)
    assert not failed.passed and failed.status == "FAIL" and failed.actual is not None
    assert failed.actual >= 0.2 and failed.limit == 0.1 and "outside <= 0.1" in failed.message
    assert passed.passed and passed.status == "pass"


def test_relative_budget_against_a_baseline_run(tmp_path: Path) -> None:
    base = streaming_run(tmp_path, 0.01, name="base")
    slower = streaming_run(tmp_path, 0.05, name="slower")
    budgets = parse_budget("e2e_ms.p50<=+10%, output_tokens_per_s>=-5%, wall_s<=+1000%")
    e2e, rate, wall = evaluate(budgets, slower, base)
    assert not e2e.passed and e2e.baseline == base.metrics["tokens"]["e2e_ms"]["p50"]
    assert e2e.baseline is not None and e2e.limit == pytest.approx(1.1 * e2e.baseline)
    assert "allowed +10%" in e2e.message
    assert not rate.passed
    assert wall.passed
    assert all(r.passed for r in evaluate(budgets, base, base))


def test_relative_without_baseline_and_missing_metric_are_error_results(tmp_path: Path) -> None:
    run = sleeping_run(tmp_path, 0.0)
    relative, missing, absent = evaluate(
        parse_budget("wall_s<=+10%, ttft_ms.p90<=250, goodput.share>=0.9"), run
    )
    assert relative.status == "error" and "needs a baseline" in relative.message
    assert missing.status == "error" and "['ttft_ms']['p90'] has no value" in missing.message
    assert absent.status == "error" and "has no 'goodput'" in absent.message and "ttft_ms" in absent.message
    assert not any(r.passed for r in (relative, missing, absent))


def test_budget_checked_with_the_run_and_saved_in_run_json(tmp_path: Path) -> None:
    first = sleeping_run(tmp_path, 0.0)
    with wb.profile(
        name="sleeper", store=tmp_path, cpu=False, budget="wall_s<=0.1, wall_s<=+50%", baseline="-1"
    ) as run:
        time.sleep(0.2)
    record = run.metrics["budget"]
    assert record["passed"] is False and record["baseline"] == {"id": first.id, "name": "sleeper"}
    assert [r["status"] for r in record["results"]] == ["FAIL", "FAIL"]
    assert wb.load_run(run.id, store=tmp_path).metrics["budget"] == record
    table = table_of(record)
    assert "wall_s<=0.1" in table and "FAIL" in table and "budget: 2 of 2 FAILED" in table


def test_unknown_baseline_is_reported_not_raised(tmp_path: Path) -> None:
    run = sleeping_run(tmp_path, 0.0)
    results, record = check_run(run, "wall_s<=+10%, wall_s<=5", "no-such-run", tmp_path)
    assert [r.status for r in results] == ["error", "pass"]
    assert "baseline 'no-such-run'" in results[0].message and record["baseline_error"]


def test_bad_budget_in_profile_raises_before_the_block_runs(tmp_path: Path) -> None:
    with pytest.raises(BudgetError, match="expected a number"):
        wb.profile(store=tmp_path, budget="wall_s<=fast")


def test_history_lists_runs_of_one_name_in_time_order(tmp_path: Path) -> None:
    for seconds in (0.05, 0.0, 0.1):
        sleeping_run(tmp_path, seconds, name="nightly")
        sleeping_run(tmp_path, 0.0, name="other")
    history = wb.history("nightly", store=tmp_path)
    assert len(history) == 3
    walls = history["wall_s"].tolist()
    assert walls[0] >= 0.05 and walls[1] < 0.05 and walls[2] >= 0.1
    assert list(history["created"]) == sorted(history["created"])
    assert {"ttft_ms_p50", "ttft_ms_p90", "output_tokens_per_s", "budget_passed"} <= set(history.columns)
    assert wb.history("missing", store=tmp_path).empty
