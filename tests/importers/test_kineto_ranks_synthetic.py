"""Synthetic rank traces built in the test: a data-parallel step per iteration, compute then an all-reduce.

`job()` writes one Kineto trace per rank: each step a GEMM on stream 7 (its length per rank is what the
test plants), then an NCCL all-reduce on stream 20 that starts when the rank arrives and ends for every
rank when the last one has arrived plus the transfer time. Times are exact integers of µs, so every
number the import measures is known in advance.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from workbench.analysis.findings import RULES

BASE_NS = 1_700_000_000_000_000_000
TRANSFER_US = 200
STEP_GAP_US = 50
ALLREDUCE = "ncclDevKernel_AllReduce_Sum_f32_RING_LL(ncclDevComm*, unsigned long, ncclWork*)"


def job(
    folder: Path,
    compute_us: Sequence[Sequence[int]],
    *,
    seq: bool = True,
    group: str | None = "0",
    base_offsets_us: Sequence[int | None] | None = None,
    rank_info: bool = True,
) -> list[Path]:
    """One trace per rank; `compute_us[r][k]` is rank r's GEMM before the k-th all-reduce. A None base
    offset writes that rank without baseTimeNanoseconds (absolute µs, as torch 1.x did)."""
    ranks = len(compute_us)
    offsets = list(base_offsets_us or [0] * ranks)
    events: list[list[dict[str, Any]]] = [[] for _ in range(ranks)]
    t = 100  # µs since BASE_NS on the common wall clock
    for k in range(len(compute_us[0])):
        arrivals = [t + compute_us[r][k] for r in range(ranks)]
        end = max(arrivals) + TRANSFER_US
        for r in range(ranks):
            args: dict[str, Any] = {"device": r, "stream": 20, "correlation": 1000 + k}
            if group is not None:
                args["Process Group Name"] = group
            if seq:
                args["Seq"] = k
            events[r] += [
                _x(
                    "kernel",
                    "gemm_f32_kernel",
                    t,
                    compute_us[r][k],
                    {"device": r, "stream": 7, "correlation": k + 1},
                ),
                _x("kernel", ALLREDUCE, arrivals[r], end - arrivals[r], args),
            ]
        events[0].append(
            _x("gpu_memcpy", "Memcpy HtoD (Pageable -> Device)", end, 10, {"device": 0, "stream": 7})
        )
        t = end + 10 + STEP_GAP_US
    paths = []
    for r in range(ranks):
        trace: dict[str, Any] = {"schemaVersion": 1, "traceEvents": _on_clock(events[r], offsets[r])}
        if rank_info:
            trace["distributedInfo"] = {"backend": "nccl", "rank": r, "world_size": ranks}
        if offsets[r] is not None:
            trace["baseTimeNanoseconds"] = BASE_NS + offsets[r] * 1000
        path = folder / f"rank-{r}.json.gz"
        path.write_bytes(gzip.compress(json.dumps(trace).encode()))
        paths.append(path)
    return paths


def _x(cat: str, name: str, ts: int, dur: int, args: dict[str, Any]) -> dict[str, Any]:
    return {"ph": "X", "cat": cat, "name": name, "pid": 0, "tid": 1, "ts": ts, "dur": dur, "args": args}


def _on_clock(events: list[dict[str, Any]], offset_us: int | None) -> list[dict[str, Any]]:
    """Times relative to this rank's base (whose offset from BASE_NS is `offset_us`), or absolute µs."""
    shift = -offset_us if offset_us is not None else BASE_NS // 1000
    return [dict(e, ts=e["ts"] + shift) for e in events]


def test_a_straggler_is_found_with_its_wait_and_gain(tmp_path: Path) -> None:
    # Rank 2's GEMM takes 3 ms where the others take 1 ms: everyone waits 2 ms for it at each all-reduce.
    paths = job(tmp_path, [[1000] * 5, [1000] * 5, [3000] * 5, [1000] * 5])
    run = wb.load_kineto(tmp_path, save=False, workers=1)
    collectives = run.metrics["gpu"]["collectives"]
    assert collectives["method"] == "seq" and collectives["matched"] == 5
    assert collectives["stragglers"] == [{"rank": 2, "last_count": 5, "share": 1.0}]
    waits = {r["rank"]: r["wait_ms"] for r in collectives["ranks"]}
    assert waits == {0: 10.0, 1: 10.0, 2: 0.0, 3: 10.0}
    assert collectives["skew_ms"]["max"] == 2.0
    found = RULES["rank_imbalance"].detect(run, None)
    assert [f.kind for f in found] == ["rank_imbalance"]
    finding = found[0]
    assert finding.evidence["straggler_rank"] == 2 and finding.evidence["others_wait_ms"] == 30.0
    # Had rank 2 arrived with the median rank, each all-reduce would start 2 ms earlier.
    assert finding.gain_ms == pytest.approx(10.0)
    assert len(finding.pointers) == 3 and all(p.type == "time_range" for p in finding.pointers)
    assert "rank_imbalance" in [f.kind for f in run.findings]
    assert len(paths) == 4


def test_balanced_ranks_raise_no_finding(tmp_path: Path) -> None:
    # The same job with every rank's GEMM within 10 µs of the others: noise, not imbalance.
    job(tmp_path, [[1000, 1005, 1000], [1003, 1000, 1010], [1000, 1000, 1002]])
    run = wb.load_kineto(tmp_path, save=False, workers=1)
    assert run.metrics["gpu"]["collectives"]["matched"] == 3
    assert RULES["rank_imbalance"].detect(run, None) == []


def test_one_rank_late_only_sometimes_is_no_straggler(tmp_path: Path) -> None:
    # Each rank is last once: imbalance moves around, there is no one rank to fix.
    job(tmp_path, [[3000, 1000, 1000], [1000, 3000, 1000], [1000, 1000, 3000]])
    run = wb.load_kineto(tmp_path, save=False, workers=1)
    assert {s["rank"]: s["last_count"] for s in run.metrics["gpu"]["collectives"]["stragglers"]} == {
        0: 1,
        1: 1,
        2: 1,
    }
    assert RULES["rank_imbalance"].detect(run, None) == []


def test_without_seq_collectives_match_in_order_per_group(tmp_path: Path) -> None:
    job(tmp_path, [[1000] * 4, [2000] * 4], seq=False)
    run = wb.load_kineto(tmp_path, save=False, workers=1)
    collectives = run.metrics["gpu"]["collectives"]
    assert collectives["method"] == "order" and collectives["matched"] == 4
    assert {c["group"] for c in collectives["top"]} == {"0"}
    # Without a process group's name the stream stands for the communicator.
    job(tmp_path, [[1000] * 4, [2000] * 4], seq=False, group=None)
    run = wb.load_kineto(tmp_path, save=False, workers=1)
    assert {c["group"] for c in run.metrics["gpu"]["collectives"]["top"]} == {"stream 20"}


def test_ranks_are_aligned_on_their_wall_clock_bases(tmp_path: Path) -> None:
    # Rank 1's profiler started 5 s later: its base differs, its events are on the same wall clock.
    job(tmp_path, [[1000] * 2, [1500] * 2], base_offsets_us=[0, 5_000_000])
    run = wb.load_kineto(tmp_path, save=False, workers=1)
    top = run.metrics["gpu"]["collectives"]["top"]
    assert [c["skew_ms"] for c in top] == [0.5, 0.5]
    ranks = run.metrics["gpu"]["ranks"]
    assert [r["first_gpu_ms"] for r in ranks] == [0.0, 0.0]
    assert not any("baseTimeNanoseconds;" in a.text for a in run.annotations)


def test_a_trace_without_a_base_is_assumed_absolute_and_noted(tmp_path: Path) -> None:
    job(tmp_path, [[1000] * 2, [1500] * 2], base_offsets_us=[0, None])
    run = wb.load_kineto(tmp_path, save=False, workers=1)
    assert [c["skew_ms"] for c in run.metrics["gpu"]["collectives"]["top"]] == [0.5, 0.5]
    notes = [a.text for a in run.annotations]
    assert any(n.startswith("rank(s) 1: no baseTimeNanoseconds") for n in notes), notes


def test_ranks_without_distributed_info_follow_file_order(tmp_path: Path) -> None:
    paths = job(tmp_path, [[1000], [2000], [1500]], rank_info=False)
    run = wb.load_kineto(list(reversed(paths)), save=False, workers=1)
    # File order of the list given: rank-2.json.gz is rank 0 here.
    assert [r["rank"] for r in run.metrics["gpu"]["ranks"]] == [0, 1, 2]
    assert [e["source"] for e in run.environment["ranks"]] == [str(p) for p in reversed(paths)]
    assert any("file order" in a.text for a in run.annotations)


def test_per_rank_breakdown_of_the_synthetic_job(tmp_path: Path) -> None:
    job(tmp_path, [[1000] * 2, [3000] * 2])
    run = wb.load_kineto(tmp_path, save=False, workers=1)
    rank0, rank1 = run.metrics["gpu"]["ranks"]
    # Rank 0, in µs: GEMM 100..1100, all-reduce 1100..3300, memcpy 3300..3310; then 3360..6570 alike.
    assert rank0["window_ms"] == 6.47 and rank0["busy_ms"] == 6.42 and rank0["idle_ms"] == pytest.approx(0.05)
    assert rank0["compute_ms"] == 2.0 and rank0["communication_ms"] == 4.4 and rank0["memory_ms"] == 0.02
    assert rank0["non_compute_ms"] == pytest.approx(4.42) and rank0["kernel_count"] == 4
    assert rank1["compute_ms"] == 6.0 and rank1["communication_ms"] == 0.4 and rank1["kernel_count"] == 4
    assert rank0["comm_comp_overlap"] == 0.0
