"""Per-rank GPU time with HTA's kernel types, the rank panel's view-model, and `workbench import DIR`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import workbench as wb
from tests.importers.test_kineto_ranks_synthetic import job
from workbench.analysis.ranks import (
    COMMUNICATION,
    COMPUTATION,
    MEMORY,
    OTHER,
    intersection_ns,
    kernel_type,
    merge,
    total_ns,
)
from workbench.render.dashboard import DashboardRenderer
from workbench.render.rank_view import RankView


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ncclKernel_SendRecv_RING_SIMPLE_Sum_int8_t(ncclDevComm*, unsigned long, ncclWork*)", COMMUNICATION),
        ("ncclDevKernel_AllReduce_Sum_f32_RING_LL(ncclDevComm*, unsigned long, ncclWork*)", COMMUNICATION),
        ("void at::native::ncclKernel_wrapper<float>()", COMMUNICATION),  # ".*ncclKernel.*"
        ("hipMemcpyAsync", COMMUNICATION),  # HTA puts "^hip" first: communication
        ("Memcpy HtoD (Pageable -> Device)", MEMORY),
        ("Memset (Device)", MEMORY),
        ("dma_copy", MEMORY),
        ("volta_sgemm_128x64_nn", COMPUTATION),
        ("void at::native::vectorized_elementwise_kernel<4>()", COMPUTATION),
        ("cudaStreamSync", OTHER),  # "^.*Sync": neither compute nor memory
        ("Stream Wait Event", OTHER),
    ],
)
def test_kernel_types_follow_htas_patterns(name: str, expected: int) -> None:
    assert kernel_type(name) == expected


def test_union_and_intersection_of_intervals() -> None:
    a = merge(np.array([0, 5, 20], np.int64), np.array([10, 12, 30], np.int64))
    assert a[0].tolist() == [0, 20] and a[1].tolist() == [12, 30] and total_ns(a) == 22
    b = merge(np.array([10, 25], np.int64), np.array([21, 40], np.int64))
    # [0,12)∩[10,21) = 2, [20,30)∩[10,21) = 1, [20,30)∩[25,40) = 5; touching ends count nothing.
    assert intersection_ns(a, b) == 8
    first, touching = (merge(np.array([s], np.int64), np.array([e], np.int64)) for s, e in ((0, 5), (5, 9)))
    assert intersection_ns(first, touching) == 0


def test_rank_panel_view_model(tmp_path: Path) -> None:
    job(tmp_path, [[1000] * 3, [2000] * 3])
    run = wb.load_kineto(tmp_path, save=False, workers=1)
    view = RankView.from_run(run)
    assert [r.rank for r in view.rows] == [0, 1] and not view.empty
    assert [r.last_count for r in view.rows] == [0, 3]
    assert view.rows[0].wait_ms == 3.0
    assert view.stragglers.startswith("rank 1 last at 3 of 3")
    kinds = {(rank, kind) for rank, kind in zip(view.bars["rank"], view.bars["kind"], strict=True)}
    assert kinds == {("rank 0", "compute"), ("rank 0", "communication"), ("rank 0", "memory"),
                     ("rank 1", "compute"), ("rank 1", "communication")}  # fmt: skip
    layout = DashboardRenderer().render(run).layout
    assert layout.select_one({"name": "rank_table"}) is not None
    assert layout.select_one({"name": "rank_lanes"}) is not None


def test_one_rank_has_no_rank_panel(tmp_path: Path) -> None:
    paths = job(tmp_path, [[1000] * 2, [2000] * 2])
    run = wb.load_kineto(paths[0], save=False)
    assert len(run.metrics["gpu"]["ranks"]) == 1 and RankView.from_run(run).empty


def test_cli_imports_a_directory_of_ranks(tmp_path: Path) -> None:
    (tmp_path / "job").mkdir()
    job(tmp_path / "job", [[1000] * 3, [3000] * 3])
    command = [sys.executable, "-m", "workbench.cli", "--store", str(tmp_path / "store"), "import",
               str(tmp_path / "job"), "--workers", "2", "--name", "job"]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    run = wb.load_run("job", store=tmp_path / "store")
    assert [r["rank"] for r in run.metrics["gpu"]["ranks"]] == [0, 1]
    assert [f.kind for f in run.findings] == ["rank_imbalance"]
    assert len(run.annotations) >= 1  # the clock assumption, saved with the run
