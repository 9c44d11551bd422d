"""The op timeline's view-model (rows, depths, levels, launch links) and its Bokeh figure."""

from __future__ import annotations

import itertools
import math

import numpy as np
from bokeh.embed import file_html
from bokeh.models import ColumnDataSource, CustomJS, Range1d
from bokeh.resources import INLINE

from workbench.render.ops_plot import OpsTimelineRenderer
from workbench.render.ops_view import OpsTimelineView

from .ops_synthetic import US, OpsBuilder, large_table, ops_run


def _launch_chain() -> OpsBuilder:
    """step ⊃ aten::linear ⊃ aten::addmm ⊃ cudaLaunchKernel --correlation 42--> sgemm on stream 7."""
    b = OpsBuilder()
    stream = b.stream("cuda:0 stream 7")  # listed first: rows must still put threads first
    main = b.thread("MainThread")
    b.op(main, "step", 0, 100 * US, category="user_annotation")
    b.op(main, "aten::linear", 10 * US, 60 * US, detail="[[8, 16], [16, 16]]")
    b.op(main, "aten::addmm", 12 * US, 50 * US)
    b.op(main, "cudaLaunchKernel", 20 * US, 25 * US, category="cuda_runtime", correlation=42)
    b.op(main, "cudaDeviceSynchronize", 70 * US, 90 * US, category="cuda_runtime")
    b.op(
        stream,
        "sgemm",
        30 * US,
        80 * US,
        category="kernel",
        correlation=42,
        detail="grid [1,1,1] block [32,1,1]",
    )
    b.op(stream, "orphan", 85 * US, 88 * US, category="kernel", correlation=99)
    return b


def _view(b: OpsBuilder, **kwargs: object) -> OpsTimelineView:
    return OpsTimelineView.from_run(ops_run(b.table()), **kwargs)  # type: ignore[arg-type]


def _row_of(view: OpsTimelineView, name: str) -> int:
    columns = view.levels[-1].columns
    (at,) = np.flatnonzero(columns["name"] == name)
    return int(columns["top"][at])


def test_rows_are_thread_depths_then_streams() -> None:
    view = _view(_launch_chain())
    assert [(r.kind, r.depth) for r in view.rows] == [("thread", d) for d in range(4)] + [("stream", 0)]
    assert [r.label for r in view.rows] == [
        "MainThread",
        "MainThread · 1",
        "MainThread · 2",
        "MainThread · 3",
        "cuda:0 stream 7",
    ]


def test_depth_comes_from_nesting() -> None:
    view = _view(_launch_chain())
    assert [_row_of(view, n) for n in ("step", "aten::linear", "aten::addmm", "cudaLaunchKernel")] == [
        0,
        1,
        2,
        3,
    ]
    assert _row_of(view, "cudaDeviceSynchronize") == 1
    assert _row_of(view, "sgemm") == 4


def test_depth_is_capped_and_the_rest_counted() -> None:
    b = OpsBuilder()
    main = b.thread()
    for d in range(9):
        b.op(main, f"op{d}", d * US, (100 - d) * US)
    view = _view(b, depth_cap=3)
    assert len(view.rows) == 3
    assert view.counts.deeper_than_cap == 6
    assert sum(int(level.columns["count"].sum()) for level in view.levels[:1]) == 3


def test_a_kernel_points_at_its_launching_op_and_runtime_call() -> None:
    view = _view(_launch_chain())
    columns = view.levels[-1].columns
    (kernel,) = np.flatnonzero(columns["name"] == "sgemm")
    # The innermost CPU op around cudaLaunchKernel: aten::addmm on depth row 2.
    assert (columns["launcher_x0"][kernel], columns["launcher_x1"][kernel]) == (0.012, 0.050)
    assert (columns["launcher_top"][kernel], columns["launcher_bottom"][kernel]) == (2.1, 2.9)
    assert (columns["runtime_x0"][kernel], columns["runtime_x1"][kernel]) == (0.020, 0.025)
    assert math.floor(columns["runtime_top"][kernel]) == 3
    assert columns["detail"][kernel] == "grid [1,1,1] block [32,1,1]"
    (orphan,) = np.flatnonzero(columns["name"] == "orphan")
    assert math.isnan(columns["launcher_x0"][orphan]) and math.isnan(columns["runtime_x0"][orphan])
    (host,) = np.flatnonzero(columns["name"] == "aten::linear")
    assert math.isnan(columns["launcher_x0"][host])
    assert columns["detail"][host] == "[[8, 16], [16, 16]]"


def test_a_launch_under_a_user_annotation_only_points_at_the_annotation() -> None:
    b = OpsBuilder()
    main, stream = b.thread(), b.stream()
    b.op(main, "my region", 0, 50 * US, category="user_annotation")
    b.op(main, "cudaMemcpyAsync", 5 * US, 9 * US, category="cuda_runtime", correlation=7)
    b.op(stream, "Memcpy HtoD", 10 * US, 30 * US, category="gpu_memcpy", correlation=7)
    columns = _view(b).levels[-1].columns
    (copy,) = np.flatnonzero(columns["category"] == "gpu_memcpy")
    assert (columns["launcher_x0"][copy], columns["launcher_x1"][copy]) == (0.0, 0.05)


def test_levels_refine_by_eight_and_stay_under_the_block_cap() -> None:
    run = ops_run(large_table(20_000))
    view = OpsTimelineView.from_run(run, width_px=1200, block_cap=40_000)
    pixels = [level.pixel_ns for level in view.levels]
    assert len(pixels) >= 2
    assert all(math.isclose(a / b, 8) for a, b in itertools.pairwise(pixels))
    assert math.isclose(pixels[0], (view.end_ms - view.start_ms) * 1e6 / 1200)
    # The whole-cell level holds about one block a pixel per row, not 120k events.
    assert len(view.levels[0]) <= 3 * 1200 * len(view.rows)
    assert view.blocks <= 40_000
    assert view.finest_us == pixels[-1] / 1e3
    for level in view.levels:
        assert int(level.columns["count"].sum()) == 120_000
        assert math.isclose(
            float(level.columns["busy_ms"].astype(np.float64).sum()), _busy_ms(run), rel_tol=1e-5
        )


def _busy_ms(run: object) -> float:
    table = run.recording.ops  # type: ignore[attr-defined]
    return float((table.end_ns - table.start_ns).sum()) / 1e6


def test_finer_levels_are_dropped_when_over_the_cap() -> None:
    run = ops_run(large_table(20_000))
    view = OpsTimelineView.from_run(run, block_cap=1)
    assert len(view.levels) == 1


def test_a_merged_block_is_named_after_its_longest_member() -> None:
    b = OpsBuilder()
    stream = b.stream()
    b.op(stream, "short", 0, 1 * US, category="kernel")
    b.op(stream, "long", 1 * US, 3 * US, category="kernel")
    b.op(stream, "short", 3 * US, 4 * US, category="kernel")
    view = OpsTimelineView.from_run(ops_run(b.table(), duration_ns=10**9))
    assert view.levels[0].columns["name"].tolist() == ["long + 2 more"]
    assert view.levels[0].columns["count"].tolist() == [3]


def test_cpu_only_table_with_a_note() -> None:
    b = OpsBuilder()
    main = b.thread()
    b.op(main, "aten::mm", 0, 10 * US)
    b.op(main, "python frame", 0, 20 * US, category="python_function")
    table = b.table(gpu_note="torch was built without CUDA")
    view = OpsTimelineView.from_run(ops_run(table))
    assert [r.kind for r in view.rows] == ["thread"]
    assert view.counts.kernels == 0 and view.counts.python_functions == 1
    assert view.gpu_note == "torch was built without CUDA"
    assert np.isnan(view.levels[0].columns["launcher_x0"]).all()
    fig = OpsTimelineRenderer().render(ops_run(table))
    titles = [fig.title.text] + [t.text for t in fig.above if hasattr(t, "text")]
    assert any("no CUDA: CPU ops only — torch was built without CUDA" in t for t in titles)


def test_nothing_to_draw_without_ops() -> None:
    assert OpsTimelineView.from_run(ops_run(None)).empty
    assert OpsTimelineRenderer().render(ops_run(None)) is None
    assert OpsTimelineRenderer().render(ops_run(OpsBuilder().table())) is None


def _sources(fig: object) -> dict[str, ColumnDataSource]:
    return {s.name: s for s in fig.select(type=ColumnDataSource) if s.name}  # type: ignore[attr-defined]


def test_render_embeds_every_level_and_switches_in_the_page() -> None:
    run = ops_run(large_table(5_000))
    view = OpsTimelineView.from_run(run)
    x_range = Range1d(start=0, end=view.end_ms)
    fig = OpsTimelineRenderer(x_range).render(run)
    assert fig.x_range is x_range
    sources = _sources(fig)
    for k, level in enumerate(view.levels):
        data = sources[f"ops_level_{k}"].data
        assert list(data["x0"]) == level.columns["x0"].tolist()
        assert {"launcher_x0", "launcher_top", "runtime_x1", "runtime_bottom"} <= set(data)
    levels = [r for r in fig.renderers if (r.name or "").startswith("ops_blocks_")]
    assert [r.visible for r in levels] == [True] + [False] * (len(levels) - 1)
    callbacks = [cb for cbs in x_range.js_property_callbacks.values() for cb in cbs]
    assert any(isinstance(cb, CustomJS) and "pixel_ms" in cb.args for cb in callbacks)
    (show_launch,) = sources["ops_level_0"].selected.js_property_callbacks["change:indices"]
    assert isinstance(show_launch, CustomJS) and show_launch.args["highlight"] is sources["ops_launch"]
    assert "Ops · 10,000 CPU ops, 15,000 kernels on 2 streams" in fig.title.text
    assert f"finest {view.finest_us:.3g} µs" in fig.title.text
    html = file_html(fig, INLINE, "ops")
    assert "ops_level_0" in html


def test_trace_strings_never_go_into_tooltip_html() -> None:
    hostile = '<img src=x onerror="alert(1)">'
    b = OpsBuilder()
    main = b.thread(hostile)
    b.op(main, hostile, 0, 10 * US, detail=hostile)
    fig = OpsTimelineRenderer().render(ops_run(b.table()))
    for tool in fig.tools:
        tooltips = getattr(tool, "tooltips", None)
        if isinstance(tooltips, str):
            assert hostile not in tooltips and "{safe}" not in tooltips
    html = file_html(fig, INLINE, "ops")
    assert hostile not in html
