"""The GPU finding rules: a planted case where each fires with its evidence, a control where it does not,
and the estimated gain against the gain measured on the same synthetic trace after the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from tests.analysis.findings.gpu_synthetic import GIB, decode_loop, launches, telemetry_run
from tests.kineto_data import kineto_trace
from tests.render.ops_synthetic import ops_run
from tests.tiny_gpt2 import tiny_gpt2
from workbench.analysis.findings.model import Finding
from workbench.analysis.findings.registry import RULES
from workbench.importers.kineto import read_kineto, run_from_kineto
from workbench.model import Run
from workbench.model.events import Counter
from workbench.model.series import RESERVED_BYTES, torch_series

GPU_KINDS = ("host_bound", "launch_overhead", "sync_in_decode", "batch_opportunity", "memory_pressure")
# Estimated gains are checked against the fixed trace's measured saving within this share.
GAIN_TOLERANCE = 0.05


def detect(kind: str, run: Run) -> list[Finding]:
    return RULES[kind].detect(run, None)


def only(found: list[Finding], kind: str) -> Finding:
    assert [f.kind for f in found] == [kind], found
    return found[0]


def kineto_run(name: str) -> Run:
    return run_from_kineto(read_kineto(kineto_trace(name)))


def measured_gain_ms(before: Run, after: Run) -> float:
    return (before.duration_ns - after.duration_ns) / 1e6


def test_the_gpu_rules_are_registered() -> None:
    assert set(GPU_KINDS) <= set(RULES)


# host_bound


def test_host_bound_decode_is_found_with_a_gain_the_fix_confirms() -> None:
    # 300 us of host ops per token for a 100 us kernel: the GPU idles two thirds of generation.
    run = decode_loop(tokens=50, host_us=300, gpu_us=100, sync=False)
    finding = only(detect("host_bound", run), "host_bound")
    assert finding.evidence["gpu_idle_share"] == pytest.approx(200 / 300, abs=0.01)
    assert finding.evidence["host_share_of_idle"] == pytest.approx(1.0)
    assert finding.pointers[0].type == "span" and finding.pointers[0].ref == 1
    assert finding.severity == "high"
    # After the fix the host keeps up with the GPU (e.g. a CUDA graph): 100 us of host per 100 us kernel.
    fixed = decode_loop(tokens=50, host_us=100, gpu_us=100, sync=False)
    assert finding.gain_ms == pytest.approx(measured_gain_ms(run, fixed), rel=GAIN_TOLERANCE)
    assert detect("host_bound", fixed) == []


def test_a_gpu_bound_decode_is_not_host_bound() -> None:
    assert detect("host_bound", decode_loop(tokens=50, host_us=100, gpu_us=1_000, sync=False)) == []


def test_recorded_traces_host_bound_alexnet_not_the_busy_ones() -> None:
    # alexnet's steps are a cold start: the GPU ran 66 ms of 12.9 s between its first and last work while
    # the host sat in cuDNN set-up and cudaMalloc (99% idle, all of it under host ops).
    finding = only(detect("host_bound", kineto_run("alexnet_cuda.json.gz")), "host_bound")
    assert finding.evidence["gpu_idle_share"] > 0.99
    assert finding.evidence["host_share_of_idle"] > 0.99
    assert finding.gain_ms == pytest.approx(12_846, rel=0.01)
    assert finding.pointers[0].type == "time_range"
    # diff_test keeps the GPU 96% busy; sampled_rank0 idles 55% but host ops cover only a third of that.
    for name in ("diff_test_cuda.json.gz", "sampled_rank0_cuda.json.gz"):
        assert detect("host_bound", kineto_run(name)) == [], name


# launch_overhead


def test_many_tiny_kernels_are_launch_bound_and_a_graph_would_save_the_gaps() -> None:
    table = launches(500, kernel_us=3, launch_us=10)
    run = ops_run(table)
    finding = only(detect("launch_overhead", run), "launch_overhead")
    evidence = finding.evidence
    assert evidence["kernels"] == 500
    assert evidence["median_kernel_us"] == 3 and evidence["median_launch_us"] == 10
    assert evidence["launch_share"] == pytest.approx(7 / 10, abs=0.01)
    assert finding.pointers[0].type == "kernel" and finding.pointers[0].ref == "void tiny_kernel<float>"
    assert "CUDA graph" in finding.suggestion and "reduce-overhead" in finding.suggestion
    # The fix replays the same kernels back to back: the GPU's part shrinks from 5 ms to 1.5 ms.
    fixed = launches(500, kernel_us=3, launch_us=10, back_to_back=True)
    gpu_span = [
        (int(t.end_ns[t.category == 5].max()) - int(t.start_ns[t.category == 5].min())) / 1e6
        for t in (table, fixed)
    ]
    assert finding.gain_ms == pytest.approx(gpu_span[0] - gpu_span[1], rel=GAIN_TOLERANCE)


def test_few_long_kernels_are_not_launch_bound() -> None:
    assert detect("launch_overhead", ops_run(launches(50, kernel_us=2_000, launch_us=10))) == []


def test_launches_per_token_are_counted_in_a_decode_loop() -> None:
    run = decode_loop(tokens=200, host_us=20, gpu_us=5, sync=False)
    finding = only(detect("launch_overhead", run), "launch_overhead")
    assert finding.evidence["launches_per_token"] == pytest.approx(1.0)


def test_recorded_traces_are_not_launch_bound() -> None:
    # diff_control has tiny kernels (median 9 us vs a 6 us launch), but its launch gaps are 12% of the
    # GPU's active time, under the 20% threshold; the others are further away.
    for name in ("alexnet_cuda.json.gz", "diff_control_cuda.json.gz", "sampled_rank0_cuda.json.gz"):
        assert detect("launch_overhead", kineto_run(name)) == [], name


# sync_in_decode


def test_a_sync_per_token_is_found_and_removing_it_saves_the_estimate() -> None:
    run = decode_loop(tokens=100, host_us=300, gpu_us=1_000, sync=True)
    finding = only(detect("sync_in_decode", run), "sync_in_decode")
    evidence = finding.evidence
    # aten::item ⊃ _local_scalar_dense ⊃ cudaMemcpyAsync, cudaStreamSynchronize: one sync per token.
    assert evidence["syncs"] == 100 and evidence["tokens"] == 100
    assert evidence["syncs_per_token"] == 1.0
    assert evidence["wait_ms"] == pytest.approx(100 * 1.005, rel=0.01)
    assert set(evidence["calls"]) == {
        "aten::item",
        "aten::_local_scalar_dense",
        "cudaMemcpyAsync",
        "cudaStreamSynchronize",
    }
    assert finding.pointers[0].ref == 1
    fixed = decode_loop(tokens=100, host_us=300, gpu_us=1_000, sync=False)
    assert finding.gain_ms == pytest.approx(measured_gain_ms(run, fixed), rel=GAIN_TOLERANCE)


def test_a_decode_loop_without_syncs_is_clean() -> None:
    assert detect("sync_in_decode", decode_loop(tokens=100, host_us=300, gpu_us=1_000, sync=False)) == []


def test_syncs_outside_any_request_are_not_a_decode_loop() -> None:
    run = decode_loop(tokens=100, host_us=300, gpu_us=1_000, sync=True)
    run.recording.spans.clear()
    assert detect("sync_in_decode", run) == []


# batch_opportunity


def test_sequential_batch_one_requests_on_an_idle_gpu_should_be_batched() -> None:
    run = telemetry_run(util_pct=20, used_gib=8, requests=4)
    finding = only(detect("batch_opportunity", run), "batch_opportunity")
    assert finding.evidence["gpu_utilisation"] == pytest.approx(0.2)
    assert finding.evidence["utilisation_source"] == "nvml"
    assert finding.evidence["memory_share"] == pytest.approx(0.1)
    # min(1 / 0.2 utilisation, 80 / 8 GiB memory, 16) = 5x; four requests batched take one request's time.
    assert finding.gain["throughput_x"] == 5.0
    assert finding.gain_ms == pytest.approx(400 * (1 - 1 / 4))
    assert "--sweep batch_size=1,4,16" in finding.suggestion
    assert [p.ref for p in finding.pointers] == [1, 2, 3]


def test_one_request_gains_throughput_not_time() -> None:
    finding = only(detect("batch_opportunity", telemetry_run(util_pct=30, used_gib=8)), "batch_opportunity")
    assert finding.gain_ms == 0 and finding.gain["throughput_x"] == pytest.approx(1 / 0.3, abs=0.05)


@pytest.mark.parametrize(
    "case",
    [
        {"util_pct": 90, "used_gib": 8},  # the GPU is busy already
        {"util_pct": 20, "used_gib": 60},  # no memory left for more sequences
        {"util_pct": 20, "used_gib": 8, "batch_size": 8},  # already batched
    ],
)
def test_no_batching_advice_for_busy_full_or_batched_runs(case: dict[str, Any]) -> None:
    assert detect("batch_opportunity", telemetry_run(**case)) == []


def test_batching_uses_the_op_trace_when_nvml_is_absent() -> None:
    run = decode_loop(tokens=50, host_us=300, gpu_us=100, sync=False)
    run.recording.add_counter(Counter(torch_series(0, RESERVED_BYTES), 0, 4 * GIB))
    run.metrics["gpu"] = {"device_info": [{"index": 0, "memory_total_bytes": 80 * GIB}]}
    finding = only(detect("batch_opportunity", run), "batch_opportunity")
    assert finding.evidence["utilisation_source"] == "op trace"
    assert finding.evidence["gpu_utilisation"] == pytest.approx(1 / 3, abs=0.01)


# memory_pressure


def test_memory_near_the_device_limit_is_flagged_without_a_time_gain() -> None:
    run = telemetry_run(util_pct=90, used_gib=76)
    finding = only(detect("memory_pressure", run), "memory_pressure")
    assert finding.evidence["memory_share"] == pytest.approx(0.95)
    assert finding.evidence["peak_gib"] == pytest.approx(76)
    assert finding.gain_ms == 0 and "no time to gain" in finding.assumption
    assert finding.pointers[0].type == "time_range" and finding.pointers[0].start_ms == 10
    assert finding.pointers[1].type == "span"
    assert "expandable_segments" in finding.suggestion


def test_memory_with_headroom_or_without_a_device_total_is_silent() -> None:
    assert detect("memory_pressure", telemetry_run(util_pct=90, used_gib=60)) == []
    run = telemetry_run(util_pct=90, used_gib=79)
    run.metrics.clear()  # no device info: the total is unknown
    assert detect("memory_pressure", run) == []


# no GPU work


def test_recorded_busy_trace_has_no_gpu_findings() -> None:
    run = kineto_run("diff_test_cuda.json.gz")
    assert [f for rule in GPU_KINDS for f in RULES[rule].detect(run, None)] == []


def test_cpu_only_decode_loop_with_item_has_no_gpu_findings(tmp_path: Path) -> None:
    import torch

    model = tiny_gpt2(tmp_path / "model")
    with (
        wb.profile(store=tmp_path / "runs", cpu=False, kernels=True) as run,
        wb.llm_request(model="tiny", name="decode") as request,
        torch.no_grad(),
    ):
        ids = torch.tensor([[1, 5, 7]])
        for _ in range(12):
            token = int(model(ids).logits[:, -1].argmax(-1).item())  # no sync on a CPU tensor
            ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
            request.chunk(1)
    table = run.recording.ops
    assert table is not None and "aten::item" in table.names and not table.has_gpu()
    assert [f for rule in GPU_KINDS for f in RULES[rule].detect(run, None)] == []
    assert not {f.kind for f in run.findings} & set(GPU_KINDS)


@pytest.mark.gpu
def test_cuda_decode_loop_with_item_syncs_every_token(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    model = tiny_gpt2(tmp_path / "model").to("cuda")
    with torch.no_grad():
        model(torch.tensor([[1, 5, 7]], device="cuda"))  # CUDA set-up outside the run
    with (
        wb.profile(store=tmp_path / "runs", cpu=False, kernels=True) as run,
        wb.llm_request(model="tiny", name="decode") as request,
        torch.no_grad(),
    ):
        ids = torch.tensor([[1, 5, 7]], device="cuda")
        for _ in range(16):
            token = int(model(ids).logits[:, -1].argmax(-1).item())  # waits for the GPU every token
            ids = torch.cat([ids, torch.tensor([[token]], device="cuda")], dim=1)
            request.chunk(1)
    finding = only(detect("sync_in_decode", run), "sync_in_decode")
    assert finding.evidence["tokens"] == 16
    assert finding.evidence["syncs_per_token"] >= 1.0
    assert "aten::item" in finding.evidence["calls"]
    assert "sync_in_decode" in {f.kind for f in run.findings}
