"""The sweep page's view-model and its text and HTML forms, from sweep metrics of hand-made runs."""

from __future__ import annotations

from workbench.analysis.sweep import sweep_metrics
from workbench.model import Run
from workbench.render.sweep_report import sweep_bundle, sweep_text
from workbench.render.sweep_view import SweepView


def _child(run_id: str, rate: float, e2e_p90: float) -> Run:
    tokens = {"output_tokens_per_s": rate, "e2e_ms": {"p90": e2e_p90}, "ttft_ms": {"p90": 1.0}}
    return Run(
        id=run_id,
        name=run_id,
        created="",
        duration_ns=10**9,
        origin_wall_s=0.0,
        metrics={"wall_s": 1.0, "tokens": tokens},
    )


def _sweep() -> Run:
    children = [
        ({"b": 1}, _child("r1", 100, 50)),
        ({"b": 2}, _child("r2", 80, 90)),
        ({"b": 4}, _child("r4", 200, 120)),
    ]
    metrics = {"wall_s": 3.0, "sweep": sweep_metrics({"b": [1, 2, 4]}, children)}
    return Run(id="s", name="sweep-b", created="", duration_ns=3 * 10**9, origin_wall_s=0.0, metrics=metrics)


def test_view_splits_points_on_and_off_the_front_with_latency_on_x() -> None:
    view = SweepView.from_run(_sweep())
    assert (view.x_label, view.y_label) == ("E2E p90 (ms)", "output tokens/s")
    assert view.points(True) == {
        "x": [50.0, 120.0],
        "y": [100.0, 200.0],
        "label": ["b=1", "b=4"],
        "run_id": ["r1", "r4"],
    }
    assert view.points(False)["label"] == ["b=2"]
    assert view.front_line() == {"x": [50.0, 120.0], "y": [100.0, 200.0]}


def test_text_and_bundle_mark_the_front() -> None:
    run = _sweep()
    lines = sweep_text(run).splitlines()
    marked = [line.split()[0] for line in lines[2:] if line.rstrip().endswith("★")]
    assert marked == ["b=1", "b=4"]
    bundle = sweep_bundle(run)
    assert "fm-workbench-sweep" in bundle["text/html"] and "Bokeh" in bundle["text/html"]
    assert bundle["text/plain"] == sweep_text(run)
