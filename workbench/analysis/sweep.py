"""Parameter sweeps (`%%fmprofile --sweep NAME=V1,V2,...`): the configurations, their key metrics, and the
Pareto front of throughput against latency.

Axes: when every configuration made LLM requests, throughput is output tokens/s and latency is E2E p90
(ms); otherwise throughput is 1/wall_s (cell runs per second) and latency is wall_s, so the front is the
fastest configuration(s). A repeated configuration (`--repeat`) uses its mean repetition wall time. A
configuration whose cell raised is listed but never on the front.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from workbench.model.run import Run

Point = tuple[float | None, float | None]
REQUEST_AXES = ("output_tokens_per_s", "e2e_ms_p90")
WALL_AXES = ("runs_per_s", "wall_s")


def configurations(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The cartesian product of the values, the first name varying slowest."""
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]


def label(config: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in config.items())


def pareto_front(points: Sequence[Point]) -> list[bool]:
    """For each (throughput, latency) point, whether it is on the Pareto front: no other point has
    throughput ≥ and latency ≤ with one of them strictly better. Points missing a value are never on it."""

    def valid(p: Point) -> bool:
        return all(v is not None and not math.isnan(v) for v in p)

    def dominates(q: Point, p: Point) -> bool:
        assert q[0] is not None and q[1] is not None and p[0] is not None and p[1] is not None
        return q[0] >= p[0] and q[1] <= p[1] and (q[0] > p[0] or q[1] < p[1])

    usable = [p for p in points if valid(p)]
    return [valid(p) and not any(dominates(q, p) for q in usable) for p in points]


def key_metrics(run: Run) -> dict[str, float | None]:
    """wall_s (mean per repetition when repeated), output tokens/s, TTFT p90, E2E p90, requests/s."""
    tokens = run.metrics.get("tokens") or {}
    wall = (run.metrics.get("repeat") or {}).get("wall_ms") or {}
    mean_ms = wall.get("mean")
    return {
        "wall_s": mean_ms / 1e3 if isinstance(mean_ms, int | float) else run.wall_s,
        "output_tokens_per_s": _num(tokens.get("output_tokens_per_s")),
        "ttft_ms_p90": _num((tokens.get("ttft_ms") or {}).get("p90")),
        "e2e_ms_p90": _num((tokens.get("e2e_ms") or {}).get("p90")),
        "request_throughput_per_s": _num(tokens.get("request_throughput_per_s")),
    }


def sweep_metrics(
    grid: Mapping[str, Sequence[Any]], children: Sequence[tuple[Mapping[str, Any], Run]]
) -> dict[str, Any]:
    """`metrics["sweep"]` of the sweep run: one row per configuration run, the axes, the Pareto front."""
    rows: list[dict[str, Any]] = []
    for config, run in children:
        metrics = key_metrics(run)
        wall = metrics["wall_s"]
        metrics["runs_per_s"] = 1.0 / wall if wall else None
        rows.append(
            {
                "run_id": run.id,
                "name": run.name,
                "label": label(config),
                "values": dict(config),
                "error": run.error,
                **metrics,
            }
        )
    with_requests = bool(rows) and all(
        r["output_tokens_per_s"] is not None and r["e2e_ms_p90"] is not None for r in rows
    )
    throughput, latency = REQUEST_AXES if with_requests else WALL_AXES
    front = pareto_front([(None, None) if r["error"] else (r[throughput], r[latency]) for r in rows])
    for row, on_front in zip(rows, front, strict=True):
        row["pareto"] = on_front
    return {
        "grid": {name: list(values) for name, values in grid.items()},
        "throughput": throughput,
        "latency": latency,
        "configurations": rows,
    }


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) else float(value)
