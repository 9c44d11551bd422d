"""The flame graph's view-model, from hand-built recordings whose durations give the expected shares."""

from __future__ import annotations

import itertools

import pytest

from workbench.model import Frame, Recording, StackSample
from workbench.render.flame_view import FlameRect, FlameView
from workbench.render.palette import package_color

from .synthetic import MAIN_THREAD, MS, WORKER_THREAD, bare_run, realistic_run

A = Frame("a", "/src/app.py", 1)
B = Frame("b", "/src/app.py", 2)
C = Frame("c", "/venv/site-packages/numpy/core.py", 3)
W = Frame("w", "/src/worker.py", 4)
TINY = Frame("tiny", "/src/app.py", 5)


def _add(rec: Recording, stack: list[Frame], ms: float, thread: int = MAIN_THREAD) -> None:
    rec.add_sample(StackSample(0, thread, rec.intern_stack(stack), int(ms * MS)))


def _view(min_width: float = 0.001, tiny_ms: float = 0.0) -> FlameView:
    rec = Recording(threads={WORKER_THREAD: "worker"})
    _add(rec, [A, B], 60)
    _add(rec, [A, C], 30)
    _add(rec, [A], 10)
    _add(rec, [W], 50, thread=WORKER_THREAD)
    if tiny_ms:
        _add(rec, [A, TINY], tiny_ms)
    return FlameView.from_run(bare_run(rec), min_width=min_width)


def _by_function(view: FlameView) -> dict[str, FlameRect]:
    return {r.function: r for r in view.rects}


def test_widths_are_shares_of_the_root_total() -> None:
    rects = _by_function(_view())
    total = 150.0
    assert rects["cell"].x0 == 0.0 and rects["cell"].x1 == pytest.approx(1.0)
    assert rects["a"].width == pytest.approx(100 / total)
    assert rects["b"].width == pytest.approx(60 / total)
    assert rects["c"].width == pytest.approx(30 / total)
    assert rects["a"].total_pct == pytest.approx(100 * 100 / total)
    assert rects["a"].self_pct == pytest.approx(100 * 10 / total)
    assert rects["a"].self_ms == pytest.approx(10.0)
    assert rects["b"].self_ms == pytest.approx(60.0) and rects["b"].total_ms == pytest.approx(60.0)


def test_children_are_laid_out_left_to_right_by_total_time() -> None:
    rects = _by_function(_view())
    assert rects["b"].x0 == pytest.approx(rects["a"].x0)
    assert rects["c"].x0 == pytest.approx(rects["b"].x1)
    # The main thread's code (100 ms) is wider than the worker thread (50 ms), so it comes first.
    assert rects["a"].x1 <= rects["[thread worker]"].x0 + 1e-12


def test_every_frame_lies_within_its_parent_one_row_up() -> None:
    for view in (_view(), FlameView.from_run(realistic_run())):
        for rect in view.rects:
            if rect.depth == 0:
                continue
            parents = [p for p in view.rects if p.depth == rect.depth - 1]
            assert any(p.x0 - 1e-12 <= rect.x0 and rect.x1 <= p.x1 + 1e-12 for p in parents), rect


def test_frames_on_one_row_do_not_overlap() -> None:
    view = FlameView.from_run(realistic_run())
    for depth in range(view.max_depth + 1):
        row = sorted((r for r in view.rects if r.depth == depth), key=lambda r: r.x0)
        for left, right in itertools.pairwise(row):
            assert left.x1 <= right.x0 + 1e-12


def test_other_threads_get_a_labelled_node_under_the_root() -> None:
    rects = _by_function(_view())
    thread = rects["[thread worker]"]
    assert thread.depth == 1
    assert thread.width == pytest.approx(50 / 150)
    assert rects["w"].depth == 2
    assert rects["w"].x0 == pytest.approx(thread.x0)
    # The cell's own thread hangs directly under the root, with no thread node.
    assert rects["a"].depth == 1


def test_frames_narrower_than_the_threshold_are_dropped() -> None:
    # 0.05 ms of 150.05 ms is a share of 3.3e-4: below 1e-3, above 1e-5.
    coarse = _view(min_width=1e-3, tiny_ms=0.05)
    fine = _view(min_width=1e-5, tiny_ms=0.05)
    assert "tiny" not in _by_function(coarse)
    assert _by_function(fine)["tiny"].width == pytest.approx(0.05 / 150.05)
    assert all(r.width >= coarse.min_width for r in coarse.rects)
    # Dropping a frame does not rescale the others.
    assert _by_function(coarse)["a"].width == pytest.approx(_by_function(fine)["a"].width)


def test_colour_follows_the_package_and_is_stable() -> None:
    rects = _by_function(_view())
    assert rects["c"].package == "numpy"
    assert rects["c"].color == package_color("numpy")
    assert rects["a"].color == rects["b"].color  # same file, same colour
    assert _by_function(_view())["c"].color == rects["c"].color


def test_no_samples_gives_no_rectangles() -> None:
    view = FlameView.from_run(bare_run(Recording()))
    assert view.empty and view.total_ms == 0.0


def test_columns_match_rectangles() -> None:
    view = _view()
    data = view.columns()
    assert len(data["x0"]) == len(view.rects)
    assert data["y"] == [r.depth + 0.5 for r in view.rects]


def test_detail_level_is_capped_to_the_widest_frames() -> None:
    from workbench.analysis.cpu import FlameNode
    from workbench.render.flame_plot import MAX_DETAIL_RECTS, detail_view

    root = FlameNode("cell", "", 0)
    # 5,000 leaves of distinct widths under the root: more than the detail level may hold.
    for i in range(5_000):
        child = root.child(f"f{i}", "app.py", i)
        child.total_ns = child.self_ns = 1_000 + i
        root.total_ns += child.total_ns
    view = detail_view(root)
    assert len(view.rects) <= MAX_DETAIL_RECTS + 1  # the root too
    kept = {r.function for r in view.rects}
    assert "f4999" in kept and "f0" not in kept
