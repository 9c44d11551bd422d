"""`workbench import` and `wb.load_kineto`: a torch.profiler trace recorded on a GPU machine as a run."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

import workbench as wb
from tests.kineto_data import kineto_trace
from workbench.importers.kineto import KinetoFormatError
from workbench.store import CorruptRunError, load_run


@pytest.fixture
def alexnet() -> Path:
    return kineto_trace("alexnet_cuda.json.gz")


def cli(*args: str, store: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "workbench.cli", "--store", str(store), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_import_saves_a_run_with_kernels_and_gpu_metrics(alexnet: Path, tmp_path: Path) -> None:
    out = cli("import", str(alexnet), "--name", "alexnet", store=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "kernels" in out.stdout and "busy" in out.stdout
    run = wb.load_run("alexnet", store=tmp_path)
    assert run.metrics["gpu"]["counts"]["kernel"] == 79
    assert (run.ops["category"] == "kernel").sum() == 79
    assert run.path is not None
    for artifact in ("ops.npz", "trace.json", "report.html"):
        assert (run.path / artifact).exists()
    trace = json.loads((run.path / "trace.json").read_text())["traceEvents"]
    kernels = [e for e in trace if e.get("cat") == "kernel"]
    assert len(kernels) == 79
    # Each kernel is the end of a flow arrow from the launch that queued it.
    finishes = {e["id"] for e in trace if e.get("ph") == "f"}
    starts = {e["id"] for e in trace if e.get("ph") == "s"}
    assert {k["args"]["correlation"] for k in kernels} <= finishes == starts
    shown = cli("show", "alexnet", store=tmp_path)
    assert shown.returncode == 0 and "launch" in shown.stdout
    # AlexNet's first steps: the GPU idles while the host sets up cuDNN and allocates.
    assert [f.kind for f in run.findings] == ["host_bound"]
    found = cli("show", "alexnet", "--findings", store=tmp_path)
    assert found.returncode == 0 and "[high · host_bound] GPU idle" in found.stdout


def test_load_kineto_without_saving(alexnet: Path, tmp_path: Path) -> None:
    run = wb.load_kineto(alexnet, save=False, store=tmp_path)
    assert run.path is None and not (tmp_path / "runs").exists()
    assert run.metrics["gpu"]["top_kernels"][0]["count"] >= 1


def test_a_file_that_is_not_a_trace_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "notes.json.gz"
    bad.write_bytes(gzip.compress(b'{"hello": 1}'))
    out = cli("import", str(bad), store=tmp_path)
    assert out.returncode == 2
    assert "notes.json.gz" in out.stderr and "Traceback" not in out.stderr
    with pytest.raises(KinetoFormatError, match=r"notes\.json\.gz"):
        wb.load_kineto(bad, store=tmp_path)


def test_a_corrupt_ops_file_names_the_run(alexnet: Path, tmp_path: Path) -> None:
    run = wb.load_kineto(alexnet, store=tmp_path)
    assert run.path is not None
    (run.path / "ops.npz").write_bytes(b"not a zip")
    with pytest.raises(CorruptRunError, match=r"ops\.npz"):
        load_run(run.path)
