"""Repetitions: per-repetition values, the t-interval, and the Mann-Whitney verdict in a comparison."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from scipy import stats

from workbench.analysis.diff import compare
from workbench.analysis.repeat import mann_whitney_p, mean_ci, per_repetition, repeat_metrics
from workbench.model import Recording, Run, Span, TokenEvent

MS = 1_000_000


def _recording() -> Recording:
    rec = Recording()
    rec.add_span(Span(1, "cell", "cell", 0, 1000 * MS))
    # Three repetitions of 100, 200 and 300 ms; the third raised, so it is not a completed repetition.
    rec.add_span(Span(2, "rep 1", "repetition", 0, 100 * MS, 1))
    rec.add_span(Span(3, "rep 2", "repetition", 100 * MS, 300 * MS, 1))
    rec.add_span(Span(4, "rep 3", "repetition", 300 * MS, 600 * MS, 1, attrs={"error": "ValueError"}))
    # One request per repetition: 10 tokens over 50 ms (TTFT 10 ms), then 10 tokens over 100 ms (TTFT 20 ms).
    rec.add_span(Span(5, "req", "llm", 10 * MS, 60 * MS, 2))
    rec.add_span(Span(6, "req", "llm", 110 * MS, 210 * MS, 3))
    for t_ms in (20, 60):
        rec.add_token(TokenEvent(5, t_ms * MS, 5))
    for t_ms in (130, 210):
        rec.add_token(TokenEvent(6, t_ms * MS, 5))
    return rec


def test_per_repetition_values_count_completed_repetitions_and_their_requests() -> None:
    values = per_repetition(_recording())
    assert values["wall_ms"] == [100.0, 200.0]
    assert values["output_tokens_per_s"] == pytest.approx([10 / 0.05, 10 / 0.1])
    assert values["ttft_ms_p50"] == pytest.approx([10.0, 20.0])
    record = repeat_metrics(_recording(), n=3, warmup=1)
    assert (record["n"], record["warmup"], record["completed"]) == (3, 1, 2)
    assert record["wall_ms"]["mean"] == 150.0


def test_mean_ci_is_the_student_t_interval() -> None:
    values = [10.0, 12.0, 11.0, 13.0, 9.0]
    ci = mean_ci(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=11.0, scale=stats.sem(values))
    assert ci["mean"] == 11.0 and ci["n"] == 5
    assert (ci["ci_low"], ci["ci_high"]) == pytest.approx((low, high))
    assert ci["ci_low"] < 11.0 < ci["ci_high"]
    assert mean_ci([5.0])["ci_low"] is None and mean_ci([5.0])["mean"] == 5.0


def test_mann_whitney_separates_shifted_samples_but_not_identical_ones() -> None:
    assert mann_whitney_p([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]) == 1.0
    assert mann_whitney_p([7.0] * 4, [7.0] * 4) == 1.0
    assert mann_whitney_p([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(2 / 252)
    assert mann_whitney_p([], [1.0]) is None
    rng = random.Random(7)
    same = [[rng.gauss(100, 5) for _ in range(8)] for _ in range(2)]
    assert mann_whitney_p(*same) > 0.05  # type: ignore[operator]


def _run(name: str, wall_ms: list[float]) -> Run:
    repeat: dict[str, Any] = {"n": len(wall_ms), "warmup": 0, "wall_ms": mean_ci(wall_ms)}
    return Run(
        id=name,
        name=name,
        created="2025-01-01T00:00:00",
        duration_ns=int(sum(wall_ms) * MS),
        origin_wall_s=0.0,
        metrics={"wall_s": sum(wall_ms) / 1e3, "repeat": repeat},
    )


def test_comparison_of_repeated_runs_reports_noise_as_same_and_a_shift_as_worse() -> None:
    noisy_a, noisy_b = _run("a", [100, 104, 98, 101, 97]), _run("b", [99, 103, 100, 102, 98])
    row = compare(noisy_a, noisy_b).metric("repeat.wall_ms")
    assert row["significant"] is False and row["direction"] == "same" and row["p_value"] > 0.05
    wall = compare(noisy_a, noisy_b).metric("wall_s")
    assert wall["direction"] == "same" and wall["p_value"] == row["p_value"]
    slow = _run("slow", [150, 155, 149, 152, 151])
    shifted = compare(noisy_a, slow).metric("repeat.wall_ms")
    assert shifted["significant"] is True and shifted["direction"] == "worse"
    assert shifted["p_value"] == pytest.approx(2 / 252)


def test_comparison_without_repetitions_has_no_significance_columns() -> None:
    plain = Run(id="p", name="p", created="", duration_ns=MS, origin_wall_s=0.0, metrics={"wall_s": 0.001})
    frame = compare(plain, _run("b", [1.0, 2.0])).metrics
    assert "p_value" not in frame.columns
    assert not math.isnan(float(frame[frame["metric"] == "wall_s"]["a"].iloc[0]))
