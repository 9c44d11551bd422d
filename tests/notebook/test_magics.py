"""`%%fmprofile` in a real Jupyter kernel with real py-spy: the cell behaves as without the magic."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.kernel import Kernel, workbench_kernel
from workbench.analysis.stacks import is_cell_file, is_infrastructure
from workbench.session import ensure_artifact
from workbench.store import list_runs, load_run

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("store")


@pytest.fixture(scope="module")
def kernel(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    with workbench_kernel(tmp_path_factory.mktemp("cwd"), store) as k:
        yield k


def newest_run(store: Path):  # type: ignore[no-untyped-def]
    runs = list_runs(store)
    assert runs, "no run saved"
    return load_run(Path(runs[-1]["path"]))


def children_named_py_spy(pid: int) -> list[psutil.Process]:
    out = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if "py-spy" in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                out.append(child)
        except psutil.NoSuchProcess:
            continue
    return out


def test_cell_body_behaves_as_without_the_magic(kernel: Kernel, store: Path) -> None:
    code = (
        "%%fmprofile --name behave --quiet\n"
        "import asyncio\n"
        "await asyncio.sleep(0.01)\n"
        "assigned_in_cell = 41\n"
        "%time _ = sum(range(10))\n"
        "echoed = !echo shell-line-works\n"
        "assigned_in_cell + 1\n"
    )
    result = kernel.execute(code)
    assert result.status == "ok", result.text()
    values = [r["data"]["text/plain"] for r in result.of_type("execute_result")]
    assert values == ["42"]
    check = kernel.execute("print(assigned_in_cell, echoed)")
    assert "41 ['shell-line-works']" in check.text()
    assert "Wall time" in result.text()
    assert newest_run(store).name == "behave"


def test_hot_function_on_top_and_no_kernel_frames_above_the_cell(kernel: Kernel, store: Path) -> None:
    kernel.execute(
        "def zq_unique_hot_function(n):\n"
        "    total = 0\n"
        "    for i in range(n):\n"
        "        total += i * i\n"
        "    return total\n"
    )
    result = kernel.execute("%%fmprofile --name hot\nzq_unique_hot_function(6_000_000)\n")
    assert result.status == "ok", result.text()
    run = newest_run(store)
    top = [f["function"] for f in run.metrics["cpu"]["top_functions"]]
    assert top[0] == "zq_unique_hot_function", top
    assert run.collectors[0].name == "cpu:py-spy" and run.collectors[0].started
    main = run.options["main_thread_id"]
    rec = run.recording
    for sample in rec.samples:
        frames = rec.stack_frames(sample.stack_id)
        # Nothing of the kernel above the user's code (IPython's displayhook *below* the cell is its work).
        assert not is_infrastructure(frames[0]), frames
        if sample.thread_id == main:
            assert is_cell_file(frames[0].file), frames
    # The dashboard is one output with an HTML and a plain-text form.
    displays = result.of_type("display_data")
    assert len(displays) == 1
    assert (
        "text/html" in displays[0]["data"] and "zq_unique_hot_function" in displays[0]["data"]["text/plain"]
    )
    assert not children_named_py_spy(kernel.pid)


def test_exception_reaches_the_user_unchanged_and_the_run_is_saved(kernel: Kernel, store: Path) -> None:
    code = "%%fmprofile --name raises --quiet\nx = 1\nraise ValueError('boom from the cell')\n"
    result = kernel.execute(code)
    assert result.status == "error"
    content = result.reply["content"]
    assert content["ename"] == "ValueError" and content["evalue"] == "boom from the cell"
    traceback = "\n".join(result.of_type("error")[0]["traceback"])
    assert "line 3" in traceback and "begin_cell_profile" not in traceback
    assert "fmprofile --name raises" in traceback
    run = newest_run(store)
    assert run.name == "raises" and run.error == "ValueError: boom from the cell"
    assert (run.path / "events.json.gz").exists() and ensure_artifact(run.path, "trace.json").exists()
    assert not children_named_py_spy(kernel.pid)


def test_keyboard_interrupt_reaches_the_user_and_the_partial_run_is_saved(
    kernel: Kernel, store: Path
) -> None:
    code = "%%fmprofile --name interrupted --quiet\nimport time\nwhile True:\n    sum(range(1000))\n"
    result = kernel.execute(code, interrupt_after=2.0, timeout=60)
    assert result.status == "error"
    assert result.reply["content"]["ename"] == "KeyboardInterrupt"
    run = newest_run(store)
    assert run.name == "interrupted" and run.error is not None and "KeyboardInterrupt" in run.error
    assert run.metrics["wall_s"] > 1.0
    assert run.metrics["cpu"]["samples"] > 50
    assert not children_named_py_spy(kernel.pid)
    # The kernel is still usable afterwards.
    assert kernel.execute("1 + 1").status == "ok"


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ("--bogus", "--bogus"),
        ("--rate fast", "--rate"),
        ("--rate 0", "--rate"),
        ("--name", "--name"),
        ("--slo ttft=200", "ttft"),
        ("--slo ttft_ms=fast", "ttft_ms"),
        ("--budget 'ttft_ms.p90<=abc'", "budget"),
        ("--nvml-rate fast", "--nvml-rate"),
        ("--nvml-rate 500", "--nvml-rate"),
        ("--kernels --no-kernels", "--no-kernels"),
        ("--ignore-finding bogus_kind", "bogus_kind"),
    ],
)
def test_bad_options_give_usage_error_and_do_not_run_the_cell(kernel: Kernel, line: str, named: str) -> None:
    result = kernel.execute(f"%%fmprofile {line}\nside_effect_{abs(hash(line))} = 1\n")
    assert result.status == "error"
    assert result.reply["content"]["ename"] == "UsageError"
    assert named in result.reply["content"]["evalue"]
    check = kernel.execute(f"'side_effect_{abs(hash(line))}' in globals()")
    assert check.of_type("execute_result")[0]["data"]["text/plain"] == "False"


def test_failing_budget_prints_fail_under_the_cell_without_an_error(kernel: Kernel, store: Path) -> None:
    code = (
        "%%fmprofile --no-cpu --name budgeted --budget 'wall_s<=0.05, wall_s<=60'\n"
        "import time\n"
        "time.sleep(0.2)\n"
        "budget_cell_ran = True\n"
    )
    result = kernel.execute(code)
    assert result.status == "ok", result.text()
    out = result.text("stdout")
    assert "wall_s<=0.05" in out and "FAIL" in out and "budget: 1 of 2 FAILED" in out
    kinds = [o["msg_type"] for o in result.outputs]
    table_at = next(i for i, o in enumerate(result.outputs) if "FAIL" in o["content"].get("text", ""))
    assert "display_data" in kinds[:table_at], kinds  # under the dashboard
    run = newest_run(store)
    assert run.name == "budgeted" and run.metrics["budget"]["passed"] is False


def test_help_shows_the_options(kernel: Kernel) -> None:
    result = kernel.execute("%%fmprofile?\n")
    text = json.dumps(result.reply["content"].get("payload", [])) + result.text()
    assert "--rate" in text and "--no-cpu" in text


def test_no_cpu_and_skipped_collectors_are_reported(kernel: Kernel, store: Path) -> None:
    result = kernel.execute("%%fmprofile --no-cpu --name nocpu\nsum(range(1000))\n")
    assert result.status == "ok", result.text()
    run = newest_run(store)
    assert any(c.name == "cpu" and not c.started and "--no-cpu" in c.reason for c in run.collectors)
    assert "--no-cpu" in result.of_type("display_data")[0]["data"]["text/plain"]


def test_kernels_trace_torch_ops_with_one_notice_and_no_raw_torch_output(kernel: Kernel, store: Path) -> None:
    code = (
        "%%fmprofile --kernels --no-cpu --name ops\n"
        "import torch\n"
        "x = torch.randn(64, 64)\n"
        "for _ in range(3):\n"
        "    y = x @ x\n"
    )
    result = kernel.execute(code)
    assert result.status == "ok", result.text()
    err = result.text("stderr")
    if not newest_run(store).environment.get("cuda_devices"):
        assert err.count("GPU tracing not possible") == 1, err
    assert "USDT" not in result.text() and "profiler_start" not in result.text()
    run = newest_run(store)
    assert (run.ops["name"] == "aten::mm").sum() == 3
    [bundle] = [o for o in result.of_type("display_data") if "text/html" in o["data"]]
    assert "torch ops" in bundle["data"]["text/plain"]
