"""GPU metrics from real Kineto traces (recorded on NVIDIA GPUs) and from synthetic tables and counters."""

from __future__ import annotations

from collections import Counter as Tally
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.kineto_data import kineto_trace, raw_events
from workbench.analysis.gpu import gpu_metrics
from workbench.analysis.gpu_ops import union_ns
from workbench.importers.kineto import read_kineto, run_from_kineto
from workbench.model.events import Counter, Span
from workbench.model.recording import Recording
from workbench.model.series import ALLOCATED_BYTES, UTIL_PCT, nvml_series, torch_series


def complete_events(path: Path) -> list[dict[str, Any]]:
    return [e for e in raw_events(path) if e.get("ph") == "X"]


def reference_union(intervals: list[tuple[float, float]]) -> float:
    total, reach = 0.0, -np.inf
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


@pytest.mark.parametrize("name", ["alexnet_cuda.json.gz", "sampled_rank0_cuda.json.gz"])
def test_kernel_summary_matches_the_trace(name: str) -> None:
    path = kineto_trace(name)
    run = run_from_kineto(read_kineto(path))
    metrics = gpu_metrics(run.recording, (0, run.duration_ns))
    assert metrics is not None
    kernels = [e for e in complete_events(path) if e["cat"] == "kernel"]
    counts = Tally(e["name"] for e in kernels)
    totals: dict[str, float] = {}
    for e in kernels:
        totals[e["name"]] = totals.get(e["name"], 0.0) + float(e["dur"])
    top = metrics["top_kernels"]
    assert top[0]["name"] == max(totals, key=lambda k: totals[k])
    for row in top:
        assert row["count"] == counts[row["name"]]
        assert row["total_ms"] == pytest.approx(totals[row["name"]] / 1e3, rel=1e-6)
    assert metrics["counts"]["kernel"] == len(kernels)
    # Busy time: the union of kernels, copies and memsets on the device, each counted once.
    work = [e for e in complete_events(path) if e["cat"] in ("kernel", "gpu_memcpy", "gpu_memset")]
    expected = reference_union([(e["ts"], e["ts"] + e["dur"]) for e in work]) / 1e3
    [device] = metrics["devices"]
    assert device["busy_ms"] == pytest.approx(expected, rel=1e-6)
    assert device["busy_ms"] + device["idle_ms"] == pytest.approx(run.duration_ns / 1e6)


def test_launch_overhead_and_synchronisations() -> None:
    path = kineto_trace("sampled_rank0_cuda.json.gz")
    run = run_from_kineto(read_kineto(path))
    metrics = gpu_metrics(run.recording, (0, run.duration_ns))
    assert metrics is not None
    runtime = [e for e in complete_events(path) if e["cat"] == "cuda_runtime"]
    launches = [e["dur"] for e in runtime if e["name"] == "cudaLaunchKernel"]
    launch = metrics["launch"]
    assert launch["calls"] >= len(launches) > 0
    assert launch["median_us"] > 0 and launch["total_ms"] >= sum(launches) / 1e3 * 0.999
    syncs = [e for e in runtime if e["name"] in ("cudaStreamSynchronize", "cudaDeviceSynchronize")]
    assert metrics["sync"]["calls"] >= len(syncs)


def test_union_of_overlapping_intervals() -> None:
    rng = np.random.default_rng(1)
    starts = rng.integers(0, 10_000, 500)
    ends = starts + rng.integers(1, 300, 500)
    expected = reference_union(list(zip(starts.tolist(), ends.tolist(), strict=True)))
    assert union_ns(starts.astype(np.int64), ends.astype(np.int64)) == expected
    assert union_ns(np.zeros(0, np.int64), np.zeros(0, np.int64)) == 0


def test_telemetry_summary_and_memory_peak_per_span() -> None:
    recording = Recording()
    recording.spans.append(Span(1, "prefill", "chain", 100, 200))
    recording.spans.append(Span(2, "decode", "chain", 200, 400))
    for t, used in [(110, 1.0e9), (150, 3.0e9), (210, 2.0e9), (300, 2.5e9), (390, 0.5e9)]:
        recording.add_counter(Counter(torch_series(0, ALLOCATED_BYTES), t, used))
        recording.add_counter(Counter(nvml_series(0, UTIL_PCT), t, used / 1e8))
    metrics = gpu_metrics(recording, (100, 400), {"gpu_telemetry": {"rate_hz_achieved": 9.8}})
    assert metrics is not None and "top_kernels" not in metrics  # no op trace in this run
    util = metrics["telemetry"][nvml_series(0, UTIL_PCT)]
    assert util["max"] == 30 and util["mean"] == pytest.approx(18) and util["points"] == 5
    peaks = {row["name"]: row["peak_bytes"] for row in metrics["memory_peaks"]}
    assert peaks == {"prefill": 3.0e9, "decode": 2.5e9}
    assert metrics["sampler"]["rate_hz_achieved"] == 9.8


def test_no_ops_and_no_telemetry_means_no_gpu_metrics() -> None:
    assert gpu_metrics(Recording(), (0, 10)) is None
