"""Several ranks' real NCCL traces as one run, checked against Holistic Trace Analysis' own numbers.

tests/data/kineto_ranks/hta_sampled_2rank holds ranks 0 and 1 of a training job from HTA's test data
(`tests/data/trace_filter/`, MIT, see LICENSE-HTA); hta_numbers.json holds what HTA 0.5.0 printed for
them and the exact calls (make_hta_numbers.py). We compare with HTA's formulas over all GPU work; on these
traces HTA's default view (dropping the last ProfilerStep) is recorded beside them and differs.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from tests.kineto_data import kineto_trace
from workbench.analysis.findings import RULES
from workbench.saved.compare import compare

DATA = Path(__file__).resolve().parents[1] / "data" / "kineto_ranks"
JOB = DATA / "hta_sampled_2rank"
FIELDS = ("window_ms", "busy_ms", "idle_ms", "compute_ms", "non_compute_ms", "kernel_count")


def hta_view(view: str) -> dict[int, dict[str, Any]]:
    """HTA's temporal breakdown and overlap per rank, in our names and in ms."""
    views = json.loads((DATA / "hta_numbers.json").read_text())["sets"]["hta_sampled_2rank"]["views"][view]
    overlap = {r["rank"]: r["comp_comm_overlap_pctg"] for r in views["comm_comp_overlap"]["result"]}
    out = {}
    for r in views["temporal_breakdown"]["result"]:
        window, idle = r["kernel_time(us)"] / 1e3, r["idle_time(us)"] / 1e3
        out[r["rank"]] = {
            "window_ms": window,
            "busy_ms": window - idle,
            "idle_ms": idle,
            "compute_ms": r["compute_time(us)"] / 1e3,
            "non_compute_ms": r["non_compute_time(us)"] / 1e3,
            "overlap_pctg": overlap[r["rank"]],
        }
    return out


def raw_kernel_counts() -> dict[int, int]:
    counts = {}
    for path in sorted(JOB.glob("*.json.gz")):
        with gzip.open(path) as file:
            trace = json.load(file)
        kinds = Counter(e.get("cat") for e in trace["traceEvents"] if e.get("ph") == "X")
        counts[trace["distributedInfo"]["rank"]] = kinds["kernel"]
    return counts


def numbers(run: wb.Run) -> dict[int, dict[str, Any]]:
    return {r["rank"]: {k: r[k] for k in FIELDS} for r in run.metrics["gpu"]["ranks"]}


@pytest.fixture(scope="module")
def job_run() -> wb.Run:
    return wb.load_kineto(JOB, save=False, workers=1)


def test_per_rank_breakdown_equals_htas_formulas(job_run: wb.Run) -> None:
    hta = hta_view("all_gpu_work")
    ranks = {r["rank"]: r for r in job_run.metrics["gpu"]["ranks"]}
    assert sorted(ranks) == [0, 1]
    for rank, expected in hta.items():
        for field in ("window_ms", "busy_ms", "idle_ms", "compute_ms", "non_compute_ms"):
            assert ranks[rank][field] == pytest.approx(expected[field], abs=0.01), (rank, field)
        # HTA prints the overlap as a percentage rounded to 2 decimals.
        assert 100 * ranks[rank]["comm_comp_overlap"] == pytest.approx(expected["overlap_pctg"], abs=0.005)
    counts = raw_kernel_counts()
    assert {r: ranks[r]["kernel_count"] for r in ranks} == counts == {0: 1154, 1: 1104}


def test_htas_default_view_drops_the_last_profiler_step() -> None:
    """Recorded for the README: on these traces HTA's default view sees only part of the GPU work."""
    default, everything = hta_view("default"), hta_view("all_gpu_work")
    assert default[0]["window_ms"] == pytest.approx(600.058) and everything[0]["window_ms"] == pytest.approx(
        1222.847
    )


def test_directory_glob_and_list_give_one_run_with_a_lane_group_per_rank(job_run: wb.Run) -> None:
    files = sorted(JOB.glob("*.json.gz"))
    for source in (str(JOB / "rank-*.json.gz"), files, [str(f) for f in files]):
        assert numbers(wb.load_kineto(source, save=False, workers=1)) == numbers(job_run)
    table = job_run.recording.ops
    assert table is not None
    groups = [entry["lanes"] for entry in job_run.environment["ranks"]]
    for rank, lanes in zip((0, 1), groups, strict=True):
        assert all(table.lanes[i].label.startswith(f"rank {rank} · ") for i in lanes)
    assert sorted(i for g in groups for i in g) == list(range(len(table.lanes)))
    # One clock: both ranks' first GPU work within a millisecond of each other, ~3 ms into the run.
    first = [r["first_gpu_ms"] for r in job_run.metrics["gpu"]["ranks"]]
    assert first == pytest.approx([2.936, 3.089])
    assert int((job_run.ops["category"] == "kernel").sum()) == 1154 + 1104
    assert any("no baseTimeNanoseconds" in a.text for a in job_run.annotations)


def test_a_process_pool_gives_the_same_numbers(job_run: wb.Run) -> None:
    pooled = wb.load_kineto(JOB, save=False, workers=2)
    assert numbers(pooled) == numbers(job_run)
    assert pooled.metrics["gpu"]["collectives"] == job_run.metrics["gpu"]["collectives"]
    with ThreadPoolExecutor(2) as executor:
        assert numbers(wb.load_kineto(JOB, save=False, executor=executor)) == numbers(job_run)


def test_collectives_and_straggler_of_the_real_job(job_run: wb.Run) -> None:
    collectives = job_run.metrics["gpu"]["collectives"]
    # These traces carry no Seq or process group: the SendRecv kernels match in order per stream.
    assert collectives["method"] == "order" and collectives["matched"] == 10
    assert collectives["stragglers"][0] == {"rank": 1, "last_count": 8, "share": 0.8}
    assert [f.kind for f in RULES["rank_imbalance"].detect(job_run, None)] == ["rank_imbalance"]


def test_two_ranks_of_one_job_compare_as_peers(tmp_path: Path) -> None:
    a = wb.load_kineto(JOB / "rank-0.json.gz", save=False)
    b = wb.load_kineto(JOB / "rank-1.json.gz", save=False)
    diff = compare(a, b)
    assert diff.peers == "rank 0 vs rank 1"
    assert not set(diff.metrics["direction"].dropna()) & {"better", "worse"}
    from workbench.render.diff_report import diff_text

    assert "rank 0 vs rank 1" in diff_text(diff)


def test_one_file_keeps_the_single_trace_import_with_one_rank() -> None:
    run = wb.load_kineto(JOB / "rank-1.json.gz", save=False)
    assert [r["rank"] for r in run.metrics["gpu"]["ranks"]] == [1]
    expected = {k: v for k, v in hta_view("all_gpu_work")[1].items() if k in FIELDS}
    assert numbers(run)[1] == pytest.approx(expected | {"kernel_count": 1104}, abs=0.01)
    assert "ranks" not in run.environment and run.environment["imported_from"].endswith("rank-1.json.gz")


def test_metrics_and_host_bound_share_one_window() -> None:
    """alexnet_cuda: the GPU's idle is measured from first to last GPU work, by the metrics and the rule."""
    run = wb.load_kineto(kineto_trace("alexnet_cuda.json.gz"), save=False)
    gpu = run.metrics["gpu"]
    (device,) = gpu["devices"]
    (rank,) = gpu["ranks"]
    (finding,) = [f for f in run.findings if f.kind == "host_bound"]
    window_ms = gpu["window_ms"][1] - gpu["window_ms"][0]
    assert window_ms == pytest.approx(rank["window_ms"]) == pytest.approx(finding.evidence["window_ms"])
    assert (
        device["idle_ms"] == pytest.approx(finding.evidence["gpu_idle_ms"]) == pytest.approx(rank["idle_ms"])
    )
    assert device["busy_ms"] == pytest.approx(rank["busy_ms"])


def test_inputs_that_name_no_trace_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no \.json or \.json\.gz"):
        wb.load_kineto(tmp_path, save=False)
    with pytest.raises(FileNotFoundError, match="no files match"):
        wb.load_kineto(str(tmp_path / "rank-*.json.gz"), save=False)
