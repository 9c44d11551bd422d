"""torch.profiler in a profile on this CPU machine: aten ops on the run clock, aligned with spans, tokens."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import workbench as wb
from tests.tiny_gpt2 import tiny_gpt2
from workbench.collectors.torch_ops import CLOCK_MARKER
from workbench.model.run import Run
from workbench.session import ensure_artifact
from workbench.store import load_run

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

NEW_TOKENS = 5
# How far Kineto's clock, aligned on markers, may stray from the run clock on a loaded 2-core machine.
ALIGNMENT_NS = 100_000


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2"))


def generate(model: Any) -> Any:
    ids = torch.randint(0, 500, (1, 5))
    return model.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=NEW_TOKENS,
        min_new_tokens=NEW_TOKENS,
        do_sample=False,
        pad_token_id=0,
    )


def op_times(run: Run, name: str) -> np.ndarray:
    table = run.recording.ops
    assert table is not None
    ids = [i for i, n in enumerate(table.names) if n == name]
    rows = np.isin(table.name_id, ids)
    return np.stack([table.start_ns[rows], table.end_ns[rows]], axis=1)


def test_aten_ops_land_inside_the_spans_that_ran_them(model: Any, tmp_path: Path) -> None:
    x = torch.randn(64, 64)
    with wb.profile(store=tmp_path, cpu=False, kernels=True) as run:
        with wb.span("matmuls"):
            for _ in range(5):
                x @ x
        with wb.span("relus"):
            for _ in range(5):
                torch.relu(x)
    spans = {s.name: s for s in run.recording.spans}
    mm, relu = op_times(run, "aten::mm"), op_times(run, "aten::relu")
    assert len(mm) == 5 and len(relu) == 5
    # Two clocks aligned by markers agree to some microseconds; a span closes a few after its last op.
    for times, span in ((mm, spans["matmuls"]), (relu, spans["relus"])):
        assert span.start_ns - ALIGNMENT_NS <= times[:, 0].min()
        assert times[:, 1].max() <= span.end_ns + ALIGNMENT_NS
    assert mm[:, 1].max() <= relu[:, 0].min()  # the order of the cell, exact: both on Kineto's clock
    assert CLOCK_MARKER not in run.ops["name"].tolist()
    assert run.ops["detail"].str.startswith("shapes [[64, 64]").any()


def test_each_decoding_step_runs_its_ops_before_its_token_arrives(model: Any, tmp_path: Path) -> None:
    with wb.profile(store=tmp_path, cpu=False, kernels=True) as run:
        generate(model)
    [request] = [s for s in run.recording.spans if s.kind == "llm"]
    arrivals = sorted(t.t_ns for t in run.recording.tokens if t.request_id == request.span_id)
    assert len(arrivals) == NEW_TOKENS
    matmuls = op_times(run, "aten::addmm")  # GPT-2's Conv1D projections
    assert request.start_ns - ALIGNMENT_NS <= matmuls[:, 0].min()
    assert matmuls[:, 1].max() <= request.end_ns + ALIGNMENT_NS
    # Each step's forward pass ends before its token is recorded, and after the previous token.
    for before, after in zip([request.start_ns, *arrivals[:-1]], arrivals, strict=True):
        inside = (matmuls[:, 0] >= before) & (matmuls[:, 1] <= after)
        assert inside.sum() >= 8, f"no forward pass between {before} and {after}"


def test_ops_of_other_threads_are_traced(tmp_path: Path) -> None:
    x = torch.randn(32, 32)
    worker = threading.Thread(target=lambda: [torch.tanh(x) for _ in range(3)], name="worker")
    with wb.profile(store=tmp_path, cpu=False, kernels=True) as run:
        worker.start()
        worker.join()
    table = run.recording.ops
    assert table is not None
    tanh = [i for i, n in enumerate(table.names) if n == "aten::tanh"]
    assert int(np.isin(table.name_id, tanh).sum()) == 3


def test_cpu_only_build_says_why_there_are_no_kernels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the CPU-only message does not apply")
    with wb.profile(store=tmp_path, cpu=False, kernels=True) as run:
        torch.ones(8) + 1
    status = next(c for c in run.collectors if c.name == "kernels")
    assert status.started and "GPU tracing not possible" in status.reason
    assert "GPU tracing not possible" in run.metrics["gpu"]["gpu_note"]
    assert run.metrics["gpu"]["counts"]["cpu_op"] >= 1 and "kernel" not in run.metrics["gpu"]["counts"]
    err = capsys.readouterr().err
    assert err.count("GPU tracing not possible") == 1  # one line, torch's own warning not shown
    assert "USDT" not in err and "Warning" not in err


def test_the_op_table_is_saved_and_loads_back_equal(tmp_path: Path) -> None:
    with wb.profile(store=tmp_path, cpu=False, kernels=True) as run:
        torch.randn(16, 16) @ torch.randn(16, 16)
    assert run.path is not None and (run.path / "ops.npz").exists()
    loaded = load_run(run.path)
    assert loaded.ops.equals(run.ops)


def test_no_kernels_and_auto_mode_without_cuda(tmp_path: Path) -> None:
    with wb.profile(store=tmp_path, cpu=False, kernels=False) as off:
        torch.ones(2) + 1
    assert off.recording.ops is None
    assert any(c.name == "kernels" and not c.started and "--no-kernels" in c.reason for c in off.collectors)
    if torch.cuda.is_available():
        return
    with wb.profile(store=tmp_path, cpu=False) as auto:
        torch.ones(2) + 1
    # Not asked for and no CUDA: no trace, and nothing reported as skipped.
    assert auto.recording.ops is None and not any(c.name == "kernels" for c in auto.collectors)


def test_trace_json_has_the_ops(tmp_path: Path) -> None:
    import json

    with wb.profile(store=tmp_path, cpu=False, kernels=True) as run:
        torch.randn(8, 8) @ torch.randn(8, 8)
    assert run.path is not None
    events = json.loads(ensure_artifact(run.path, "trace.json").read_text())["traceEvents"]
    mm = [e for e in events if e.get("name") == "aten::mm" and e.get("ph") == "X"]
    assert len(mm) == 1 and mm[0]["cat"] == "cpu_op"
    spans = [e for e in events if e.get("name") == run.name and e.get("ph") == "X"]
    assert spans and spans[0]["ts"] <= mm[0]["ts"]
