"""The flame tree and top functions, weighted by the time each sample stands for."""

from __future__ import annotations

import pytest

from workbench.analysis.cpu import FlameNode, cpu_metrics, flame_tree, top_functions
from workbench.model import Frame, Recording, StackSample

MS = 1_000_000
MAIN, WORKER = 100, 200

CELL = Frame("<module>", "/tmp/ipykernel_1/2.py", 1)
A = Frame("a", "/u/app.py", 10)
B = Frame("b", "/u/app.py", 20)
C = Frame("c", "/u/lib.py", 5)
W = Frame("w", "/u/pool.py", 7)


def _recording() -> Recording:
    """Main: [cell a b] 30 ms (3 samples), [cell a] 10, [cell c] 20, [cell a b] 40 (4), idle 50 (5).
    Worker "pool-0": [w] 25 ms (2 samples)."""
    rec = Recording(threads={MAIN: "MainThread", WORKER: "pool-0"})
    rows = [
        (MAIN, [CELL, A, B], 30, 3),
        (MAIN, [CELL, A], 10, 1),
        (MAIN, [CELL, C], 20, 2),
        (MAIN, [CELL, A, B], 40, 4),
        (MAIN, [], 50, 5),
        (WORKER, [W], 25, 2),
    ]
    t = 0
    for thread, frames, ms, count in rows:
        rec.add_sample(StackSample(t, thread, rec.intern_stack(frames), ms * MS, count))
        t += ms * MS
    return rec


def test_flame_tree_totals_and_self_times() -> None:
    root = flame_tree(_recording(), MAIN, root_name="run")
    assert (root.function, root.total_ns, root.samples) == ("run", 175 * MS, 17)
    cell, idle, worker = root.sorted_children()
    assert (cell.function, cell.total_ns, cell.self_ns) == ("<module>", 100 * MS, 0)
    assert (idle.function, idle.total_ns, idle.self_ns, idle.samples) == ("(idle)", 50 * MS, 50 * MS, 5)
    assert (worker.function, worker.total_ns) == ("[thread pool-0]", 25 * MS)
    a, c = cell.sorted_children()
    assert (a.function, a.total_ns, a.self_ns, a.samples) == ("a", 80 * MS, 10 * MS, 8)
    assert (c.function, c.total_ns, c.self_ns) == ("c", 20 * MS, 20 * MS)
    (b,) = a.sorted_children()
    assert (b.function, b.total_ns, b.self_ns, b.samples) == ("b", 70 * MS, 70 * MS, 7)
    (w,) = worker.sorted_children()
    assert (w.function, w.total_ns, w.self_ns) == ("w", 25 * MS, 25 * MS)


def test_children_total_never_exceeds_parent() -> None:
    def check(node: FlameNode) -> None:
        assert sum(child.total_ns for child in node.children.values()) + node.self_ns == node.total_ns
        for child in node.children.values():
            check(child)

    check(flame_tree(_recording(), MAIN))


def test_top_functions_shares_exclude_idle_time() -> None:
    rows = top_functions(_recording())
    # Sampled (non-idle) time: 30 + 10 + 20 + 40 + 25 = 125 ms.
    assert [r["function"] for r in rows] == ["b", "w", "c", "a"]
    by_name = {r["function"]: r for r in rows}
    assert by_name["b"]["self_ms"] == pytest.approx(70.0)
    assert by_name["b"]["self_pct"] == pytest.approx(100 * 70 / 125)
    assert by_name["b"]["total_pct"] == pytest.approx(100 * 70 / 125)
    assert by_name["a"]["self_pct"] == pytest.approx(100 * 10 / 125)
    assert by_name["a"]["total_pct"] == pytest.approx(100 * 80 / 125)
    assert by_name["w"]["self_pct"] == pytest.approx(100 * 25 / 125)
    assert (by_name["c"]["file"], by_name["c"]["line"]) == ("/u/lib.py", 5)
    assert [r["function"] for r in top_functions(_recording(), limit=2)] == ["b", "w"]


def test_recursion_counts_once_in_total_share() -> None:
    rec = Recording()
    outer, inner = Frame("rec", "/u/r.py", 1), Frame("rec", "/u/r.py", 2)
    rec.add_sample(StackSample(0, 1, rec.intern_stack([CELL, outer, inner]), 10 * MS))
    rec.add_sample(StackSample(10 * MS, 1, rec.intern_stack([CELL]), 10 * MS))
    by_name = {r["function"]: r for r in top_functions(rec)}
    assert by_name["rec"]["total_pct"] == pytest.approx(50.0)  # not 100: one call path, one share
    assert by_name["<module>"]["total_pct"] == pytest.approx(100.0)


def test_cpu_metrics() -> None:
    rec = _recording()
    metrics = cpu_metrics(rec, reported_samples=None, rate_hz=100.0)
    assert metrics["samples"] == 17
    assert metrics["sampled_ms"] == pytest.approx(125.0)
    assert metrics["rate_hz"] == 100.0
    assert metrics["top_functions"] == top_functions(rec)
    assert cpu_metrics(rec, reported_samples=20, rate_hz=100.0)["samples"] == 20


def test_an_idle_only_recording_has_no_top_functions() -> None:
    rec = Recording()
    rec.add_sample(StackSample(0, 1, rec.intern_stack([]), 10 * MS))
    assert top_functions(rec) == []
    assert flame_tree(rec, 1).sorted_children()[0].function == "(idle)"
