"""`%%fmprofile --repeat` and `--sweep` in a real Jupyter kernel with real py-spy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kernel import Kernel, workbench_kernel
from workbench.analysis.diff import compare
from workbench.analysis.sweep import pareto_front
from workbench.model import Run
from workbench.store import list_runs, load_run

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("store")


@pytest.fixture(scope="module")
def kernel(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    with workbench_kernel(tmp_path_factory.mktemp("cwd"), store) as k:
        yield k


def run_named(store: Path, name: str) -> Run:
    rows = [r for r in list_runs(store) if r.get("name") == name]
    assert len(rows) == 1, [r.get("name") for r in list_runs(store)]
    return load_run(Path(rows[0]["path"]))


def value_of(kernel: Kernel, expression: str) -> str:
    result = kernel.execute(expression)
    assert result.status == "ok", result.text()
    return str(result.of_type("execute_result")[0]["data"]["text/plain"])


BUSY = "def zq_busy_loop(n):\n    t = 0\n    for i in range(n):\n        t += i * i\n    return t\n"


def test_repeat_records_each_repetition_with_a_confidence_interval(kernel: Kernel, store: Path) -> None:
    kernel.execute(BUSY)
    code = (
        "%%fmprofile --repeat 5 --warmup 1 --name rep5\n"
        "rep_counter = globals().get('rep_counter', 0) + 1\n"
        "zq_busy_loop(300_000)\n"
        "rep_counter\n"
    )
    result = kernel.execute(code)
    assert result.status == "ok", result.text()
    # The cell's value and variables are those after the last repetition: 1 warm-up + 5 repetitions.
    assert [r["data"]["text/plain"] for r in result.of_type("execute_result")] == ["6"]
    assert value_of(kernel, "rep_counter") == "6"
    dashboards = result.of_type("display_data")
    assert len(dashboards) == 1 and "rep5" in dashboards[0]["data"]["text/plain"]
    run = run_named(store, "rep5")
    root = next(s for s in run.recording.spans if s.kind == "cell")
    reps = [s for s in run.recording.spans if s.kind == "repetition"]
    assert [s.name for s in reps] == [f"rep {i}" for i in range(1, 6)]
    assert all(s.parent_id == root.span_id for s in reps)
    record = run.metrics["repeat"]
    assert (record["n"], record["warmup"], record["completed"]) == (5, 1, 5)
    wall = record["wall_ms"]
    assert wall["values"] == pytest.approx([s.duration_ns / 1e6 for s in reps])
    assert wall["ci_low"] < wall["mean"] < wall["ci_high"]
    assert run.metrics["cpu"]["samples"] > 0
    # Identical repetitions compared with themselves are not a difference.
    diff = compare(run, load_run(run.path))  # type: ignore[arg-type]
    row = diff.metric("repeat.wall_ms")
    assert row["p_value"] == 1.0 and row["significant"] is False and row["direction"] == "same"


def test_exception_in_a_repetition_stops_the_loop_and_saves_the_partial_run(
    kernel: Kernel, store: Path
) -> None:
    code = (
        "%%fmprofile --repeat 4 --name rep-fails --quiet --no-cpu\n"
        "fail_count = globals().get('fail_count', 0) + 1\n"
        "if fail_count == 2:\n"
        "    raise ValueError('boom in repetition 2')\n"
    )
    result = kernel.execute(code)
    assert result.status == "error"
    content = result.reply["content"]
    assert (content["ename"], content["evalue"]) == ("ValueError", "boom in repetition 2")
    traceback = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(result.of_type("error")[0]["traceback"]))
    assert "line 4" in traceback and "raise ValueError('boom in repetition 2')" in traceback
    assert "fmprofile --repeat 4" in traceback and "run_cell_loop" not in traceback
    assert value_of(kernel, "fail_count") == "2"
    run = run_named(store, "rep-fails")
    assert run.error == "ValueError: boom in repetition 2"
    reps = [s for s in run.recording.spans if s.kind == "repetition"]
    assert [s.name for s in reps] == ["rep 1", "rep 2"] and reps[1].attrs["error"] == "ValueError"
    assert run.metrics["repeat"]["completed"] == 1


def test_top_level_await_is_refused_with_a_usage_error(kernel: Kernel) -> None:
    result = kernel.execute("%%fmprofile --repeat 2\nimport asyncio\nawait asyncio.sleep(0)\nawaited = 1\n")
    assert result.status == "error" and result.reply["content"]["ename"] == "UsageError"
    assert "asyncio.run" in result.reply["content"]["evalue"]
    assert value_of(kernel, "'awaited' in globals()") == "False"


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ("--repeat 0", "--repeat"),
        ("--warmup 2", "--warmup"),
        ("--sweep n", "--sweep 'n'"),
        ("--sweep n=", "--sweep 'n='"),
        ("--sweep n=1 --sweep n=2", "swept twice"),
    ],
)
def test_bad_repeat_and_sweep_options_are_usage_errors(kernel: Kernel, line: str, named: str) -> None:
    result = kernel.execute(f"%%fmprofile {line}\nnot_run_{abs(hash(line))} = 1\n")
    assert result.status == "error" and result.reply["content"]["ename"] == "UsageError"
    assert named in result.reply["content"]["evalue"]


def test_sweep_makes_a_child_run_per_configuration_and_restores_the_namespace(
    kernel: Kernel, store: Path
) -> None:
    kernel.execute(BUSY + "import time\nsweep_n = 'before'\nseen = []\n")
    # ~5 ms, ~150 ms, ~165 ms and ~600 ms: the fastest and the slowest apart from the rest by 100 ms or more,
    # which no scheduling delay on a loaded machine makes up.
    code = (
        "%%fmprofile --sweep sweep_n=100000,3000000 --sweep mode=fast,'slow' --name sw\n"
        "seen.append((sweep_n, mode))\n"
        "zq_busy_loop(sweep_n * (3 if mode == 'slow' else 1))\n"
        "time.sleep(0.15 if mode == 'slow' else 0)\n"
    )
    result = kernel.execute(code)
    assert result.status == "ok", result.text()
    assert value_of(kernel, "seen") == (
        "[(100000, 'fast'), (100000, 'slow'), (3000000, 'fast'), (3000000, 'slow')]"
    )
    assert value_of(kernel, "sweep_n, 'mode' in globals()") == "('before', False)"
    html = [d["data"]["text/html"] for d in result.of_type("display_data")]
    assert len(html) == 1 and "fm-workbench-sweep" in html[0] and "Bokeh" in html[0]
    parent = run_named(store, "sw")
    sweep = parent.metrics["sweep"]
    rows = sweep["configurations"]
    assert [r["values"] for r in rows] == [
        {"sweep_n": n, "mode": m} for n in (100000, 3000000) for m in ("fast", "slow")
    ]
    children = [load_run(parent.path.parent / r["run_id"]) for r in rows]  # type: ignore[union-attr]
    for row, child in zip(rows, children, strict=True):
        assert child.parent == parent.id and child.options["sweep"] == row["values"]
        assert row["wall_s"] == pytest.approx(child.wall_s)
    # No requests: throughput is 1/wall_s and latency wall_s; the front is the fastest configuration.
    assert (sweep["throughput"], sweep["latency"]) == ("runs_per_s", "wall_s")
    walls = [c.wall_s for c in children]
    expected = pareto_front([(1 / w, w) for w in walls])
    assert [r["pareto"] for r in rows] == expected
    # The smallest loop is the fastest configuration, and alone on the front.
    assert expected == [True, False, False, False]
    slowest = children[walls.index(max(walls))]
    assert slowest.options["sweep"] == {"sweep_n": 3000000, "mode": "slow"}
    assert slowest.metrics["cpu"]["samples"] > 0
    assert (parent.path / "report.html").exists()  # type: ignore[operator]
