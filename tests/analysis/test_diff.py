"""Run comparison on hand-made runs: the diff-tree merge, metric directions, function/span/kernel deltas."""

from __future__ import annotations

import math
from typing import Any

import pytest

from workbench.analysis.cpu import FlameNode
from workbench.analysis.diff import DiffNode, compare, diff_tree, direction
from workbench.model import Frame, Recording, Run, Span, StackSample

MS = 1_000_000
MAIN = 1
CELL_A = Frame("<module>", "/tmp/ipykernel_11/111.py", 1)
CELL_B = Frame("<module>", "/tmp/ipykernel_22/222.py", 1)  # another kernel, another cell file
F = Frame("f", "/u/app.py", 10)
G = Frame("g", "/u/app.py", 20)
H = Frame("h", "/u/app.py", 30)


def _run(name: str, stacks: list[tuple[list[Frame], int]], metrics: dict[str, Any] | None = None) -> Run:
    rec = Recording(threads={MAIN: "MainThread"})
    t = 0
    for frames, ms in stacks:
        rec.add_sample(StackSample(t, MAIN, rec.intern_stack(frames), ms * MS))
        t += ms * MS
    return Run(
        id=f"20250101-000000-{name}",
        name=name,
        created="2025-01-01T00:00:00",
        duration_ns=t,
        origin_wall_s=0.0,
        options={"main_thread_id": MAIN},
        recording=rec,
        metrics=metrics or {},
    )


def _node(name: str, total_ms: int, *children: FlameNode) -> FlameNode:
    node = FlameNode(name, "/u/app.py", 1, total_ns=total_ms * MS)
    node.self_ns = node.total_ns - sum(c.total_ns for c in children)
    node.children = {(c.function, c.file): c for c in children}
    return node


def test_diff_tree_merges_by_path_and_marks_one_sided_frames() -> None:
    a = _node("cell", 100, _node("f", 60, _node("g", 40)), _node("h", 40))
    b = _node("cell", 200, _node("f", 180, _node("g", 160)), _node("k", 20))
    root = diff_tree(a, b)
    assert (root.share_a, root.share_b, root.delta) == (1.0, 1.0, 0.0)
    f = root.children[("f", "/u/app.py")]
    assert (f.share_a, f.share_b) == pytest.approx((0.6, 0.9))
    assert f.delta == pytest.approx(0.3) and f.only_in is None
    g = f.children[("g", "/u/app.py")]
    assert (g.share_a, g.share_b, g.total_a_ns, g.total_b_ns) == pytest.approx((0.4, 0.8, 40 * MS, 160 * MS))
    h, k = root.children[("h", "/u/app.py")], root.children[("k", "/u/app.py")]
    assert (h.only_in, h.share_b, h.delta) == ("a", 0.0, pytest.approx(-0.4))
    assert (k.only_in, k.share_a, k.delta) == ("b", 0.0, pytest.approx(0.1))
    assert {n.function for n in root.walk()} == {"cell", "f", "g", "h", "k"}
    biggest = max((n for n in root.walk() if n is not root), key=lambda n: n.delta)
    assert biggest.function == "g"


def test_cell_files_of_different_cells_line_up() -> None:
    a = _run("a", [([CELL_A, F], 50), ([CELL_A, G], 50)])
    b = _run("b", [([CELL_B, F], 90), ([CELL_B, G], 10)])
    diff = compare(a, b)
    (module,) = diff.flame.children.values()
    assert module.only_in is None and module.file == "/tmp/ipykernel_11/111.py"
    f = module.children[("f", "/u/app.py")]
    assert f.delta == pytest.approx(0.4)
    rows = diff.functions.set_index("function")
    assert rows.loc["<module>", "file"] == "<cell>" and rows.loc["<module>", "only_in"] is None
    assert rows.loc["f", "delta"] == pytest.approx(40.0)  # percentage points of self share
    assert rows.loc["g", "delta"] == pytest.approx(-40.0)
    assert rows.loc["f", "self_ms_b"] == pytest.approx(90.0)


def test_functions_only_in_one_run_and_sorted_by_size_of_change() -> None:
    a = _run("a", [([CELL_A, F], 80), ([CELL_A, H], 20)])
    b = _run("b", [([CELL_A, F], 70), ([CELL_A, G], 30)])
    functions = compare(a, b).functions
    assert list(functions["function"])[:2] == ["g", "h"]  # |Δ| 30 and 20 before f's 10
    rows = functions.set_index("function")
    assert rows.loc["g", "only_in"] == "b" and rows.loc["g", "self_pct_a"] == 0.0
    assert rows.loc["h", "only_in"] == "a" and math.isnan(rows.loc["h", "self_ms_b"])
    assert rows.loc["f", "delta"] == pytest.approx(-10.0)


@pytest.mark.parametrize(
    ("delta", "pct", "higher_is_better", "expected"),
    [
        (1.0, 50.0, False, "worse"),
        (-1.0, -50.0, False, "better"),
        (1.0, 50.0, True, "better"),
        (-1.0, -50.0, True, "worse"),
        (0.001, 0.5, False, "same"),
        (2.0, 20.0, None, "changed"),
        (0.0, math.nan, True, "same"),
        (3.0, math.nan, True, "better"),
    ],
)
def test_direction(delta: float, pct: float, higher_is_better: bool | None, expected: str) -> None:
    assert direction(delta, pct, higher_is_better) == expected


def _token_metrics(ttft_p90: float, tokens_per_s: float, share: float | None = None) -> dict[str, Any]:
    stats = {"p50": ttft_p90 / 2, "p90": ttft_p90, "p99": ttft_p90 * 1.1}
    tokens: dict[str, Any] = {"output_tokens": 100, "output_tokens_per_s": tokens_per_s, "ttft_ms": stats}
    if share is not None:
        tokens["goodput"] = {"share": share, "slo": {"ttft_ms": 200}}
    return {
        "wall_s": 2.0,
        "tokens": tokens,
        "stages": {"per_kind": {"retrieval": {"wall_ms": 100.0, "critical_ms": 80.0}}},
        "gpu": {"busy_pct": 40.0},
    }


def test_metric_deltas_know_which_way_is_better() -> None:
    a = _run("a", [], _token_metrics(200.0, 50.0, share=0.9))
    b_metrics = _token_metrics(300.0, 60.0, share=0.5)
    b_metrics["wall_s"] = 2.01  # +0.5%: same
    b_metrics["stages"]["per_kind"]["retrieval"]["critical_ms"] = 40.0
    b_metrics["gpu"] = {"busy_share": 0.6}
    diff = compare(a, _run("b", [], b_metrics))
    ttft = diff.metric("ttft_ms.p90")
    assert (ttft["a"], ttft["b"], ttft["delta"], ttft["delta_pct"]) == (200.0, 300.0, 100.0, 50.0)
    assert ttft["direction"] == "worse"
    assert diff.metric("output_tokens_per_s")["direction"] == "better"
    assert diff.metric("output_tokens")["direction"] == "same"
    assert diff.metric("wall_s")["direction"] == "same"
    assert diff.metric("goodput.share")["direction"] == "worse"
    assert diff.metric("stage.retrieval.critical_ms")["direction"] == "better"
    assert diff.metric("stage.retrieval.wall_ms")["direction"] == "same"
    busy = diff.metric("gpu.busy_share")
    assert (busy["a"], busy["b"], busy["direction"]) == (pytest.approx(0.4), 0.6, "better")
    # Token latencies neither run has (TPOT here) are left out; goodput only when both have an SLO.
    with pytest.raises(KeyError):
        diff.metric("tpot_ms.p50")
    assert "goodput.share" not in set(compare(a, _run("c", [], _token_metrics(1, 1))).metrics["metric"])


def test_runs_without_samples_or_tokens_compare_with_missing_values() -> None:
    a = _run("a", [], {"wall_s": 1.0})
    b = _run("b", [([CELL_A, F], 10)], _token_metrics(100.0, 10.0))
    diff = compare(a, b)
    ttft = diff.metric("ttft_ms.p50")
    assert math.isnan(ttft["a"]) and ttft["b"] == 50.0 and ttft["direction"] is None
    assert diff.metric("wall_s")["direction"] == "worse"
    assert diff.functions.set_index("function").loc["f", "only_in"] == "b"
    assert math.isnan(diff.functions.iloc[0]["self_pct_a"])  # no sampled time in a at all
    assert diff.flame.share_a == 0.0 and diff.flame.share_b == 1.0
    empty = compare(a, a)
    assert empty.functions.empty and empty.spans.empty and empty.kernels.empty
    assert isinstance(empty.flame, DiffNode) and not empty.flame.children


def test_span_and_kernel_deltas() -> None:
    a, b = _run("a", []), _run("b", [])
    for run, scale in ((a, 1), (b, 2)):
        rec = run.recording
        rec.add_span(Span(1, run.name, "cell", 0, 100 * MS * scale))
        rec.add_span(Span(2, "retrieve", "retrieval", 0, 10 * MS * scale, parent_id=1))
        rec.add_span(Span(3, "retrieve", "retrieval", 0, 10 * MS * scale, parent_id=1))
        rec.add_span(Span(4, "gemm", "kernel", 0, 2 * MS * scale))
    b.recording.add_span(Span(5, "rerank", "tool", 0, 5 * MS))
    diff = compare(a, b)
    spans = diff.spans.set_index(["name", "kind"])
    assert spans.loc[("(cell)", "cell"), "delta_ms"] == pytest.approx(100.0)  # run names differ, matched
    retrieve = spans.loc[("retrieve", "retrieval")]
    assert (retrieve["count_a"], retrieve["count_b"], retrieve["total_ms_a"], retrieve["total_ms_b"]) == (
        2, 2, 20.0, 40.0,
    )  # fmt: skip
    assert retrieve["delta_pct"] == pytest.approx(100.0)
    assert spans.loc[("rerank", "tool"), "only_in"] == "b"
    assert "kernel" not in set(diff.spans["kind"])
    kernels = diff.kernels.set_index("name")
    assert kernels.loc["gemm", "delta_ms"] == pytest.approx(2.0)
    assert diff.spans["name"].iloc[0] == "(cell)"  # largest |Δ ms| first


def test_kernels_from_the_gpu_metrics_table() -> None:
    a = _run("a", [], {"gpu": {"top_kernels": [{"name": "sgemm", "count": 10, "total_ms": 5.0}]}})
    b = _run("b", [], {"gpu": {"top_kernels": [{"name": "sgemm", "count": 10, "total_ms": 7.5}]}})
    row = compare(a, b).kernels.iloc[0]
    assert (row["name"], row["total_ms_a"], row["total_ms_b"], row["delta_ms"]) == ("sgemm", 5.0, 7.5, 2.5)
