"""Sweeps: configurations, the Pareto front, and the sweep metrics built from configuration runs."""

from __future__ import annotations

from typing import Any

import pytest

from workbench.analysis.sweep import configurations, label, pareto_front, sweep_metrics
from workbench.model import Run


def test_configurations_are_the_cartesian_product_first_name_slowest() -> None:
    grid = {"batch_size": [1, 2], "max_new_tokens": [64, 128]}
    assert configurations(grid) == [
        {"batch_size": 1, "max_new_tokens": 64},
        {"batch_size": 1, "max_new_tokens": 128},
        {"batch_size": 2, "max_new_tokens": 64},
        {"batch_size": 2, "max_new_tokens": 128},
    ]
    assert label({"a": 1, "mode": "x"}) == "a=1, mode='x'"


@pytest.mark.parametrize(
    ("points", "front"),
    [
        # (throughput, latency): maximise the first, minimise the second.
        ([(10, 100), (20, 200), (15, 300), (5, 50)], [True, True, False, True]),
        ([(10, 100), (10, 100)], [True, True]),  # equal points do not dominate each other
        ([(10, 100), (10, 90)], [False, True]),  # same throughput, lower latency wins
        ([(10, None), (5, 50)], [False, True]),  # a point missing a value is never on the front
        ([(float("nan"), 1.0)], [False]),
        ([], []),
    ],
)
def test_pareto_front(points: list[tuple[Any, Any]], front: list[bool]) -> None:
    assert pareto_front(points) == front


def _run(run_id: str, wall_s: float, tokens: dict[str, Any] | None = None) -> Run:
    return Run(
        id=run_id,
        name=run_id,
        created="",
        duration_ns=int(wall_s * 1e9),
        origin_wall_s=0.0,
        metrics={"wall_s": wall_s, "tokens": tokens or {}},
    )


def _tokens(rate: float, e2e_p90: float) -> dict[str, Any]:
    return {
        "output_tokens_per_s": rate,
        "e2e_ms": {"p90": e2e_p90},
        "ttft_ms": {"p90": 5.0},
        "request_throughput_per_s": 1.0,
    }


def test_sweep_metrics_use_token_axes_when_every_configuration_made_requests() -> None:
    children = [
        ({"b": 1}, _run("r1", 1.0, _tokens(100, 50))),
        ({"b": 2}, _run("r2", 1.0, _tokens(180, 90))),
        ({"b": 4}, _run("r4", 1.0, _tokens(170, 120))),
    ]
    metrics = sweep_metrics({"b": [1, 2, 4]}, children)
    assert (metrics["throughput"], metrics["latency"]) == ("output_tokens_per_s", "e2e_ms_p90")
    rows = metrics["configurations"]
    assert [r["pareto"] for r in rows] == [True, True, False]
    assert rows[0]["values"] == {"b": 1} and rows[0]["run_id"] == "r1" and rows[0]["ttft_ms_p90"] == 5.0


def test_sweep_metrics_fall_back_to_wall_time_without_requests() -> None:
    children = [({"n": 1}, _run("a", 0.3)), ({"n": 2}, _run("b", 0.1)), ({"n": 3}, _run("c", 0.2))]
    metrics = sweep_metrics({"n": [1, 2, 3]}, children)
    assert (metrics["throughput"], metrics["latency"]) == ("runs_per_s", "wall_s")
    assert [r["pareto"] for r in metrics["configurations"]] == [False, True, False]
    assert metrics["configurations"][1]["runs_per_s"] == pytest.approx(10.0)


def test_a_configuration_that_raised_is_never_on_the_front() -> None:
    failed = _run("f", 0.01)
    failed.error = "ValueError: boom"
    metrics = sweep_metrics({"n": [1, 2]}, [({"n": 1}, failed), ({"n": 2}, _run("ok", 0.5))])
    assert [r["pareto"] for r in metrics["configurations"]] == [False, True]
