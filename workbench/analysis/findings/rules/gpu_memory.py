"""GPU capacity: room to batch single requests (low utilisation, free memory), and memory close to the limit.

They read telemetry (NVML's utilisation and memory, torch's allocator) against the device's total memory
from NVML, and the op trace's busy time where NVML's utilisation is absent.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from workbench.analysis.findings.model import Evidence, Finding, severity_of
from workbench.analysis.findings.registry import rule
from workbench.analysis.findings.rules.gpu_common import (
    blocks,
    cell_ms,
    clip,
    gpu_rows,
    gpu_table,
    length_ns,
    llm_spans,
)
from workbench.analysis.gpu_telemetry import SeriesPoints, series_points
from workbench.model.events import Span
from workbench.model.run import Run
from workbench.model.series import (
    ALLOCATED_BYTES,
    MEM_USED_BYTES,
    NVML_PREFIX,
    RESERVED_BYTES,
    UTIL_PCT,
    split_series,
)

# Below half busy, a batch-1 decode leaves the GPU waiting more than working: batching fills it.
LOW_UTILISATION = 0.5
# Batching needs room for each extra sequence's KV cache: under half the device in use leaves it.
MAX_MEMORY_SHARE_TO_BATCH = 0.5
# Beyond 16 sequences, batch-1 decode stops being bandwidth-bound on current GPUs: no larger claim.
MAX_BATCH = 16
# Claiming less than 1.5x would be within the noise of the estimate.
MIN_THROUGHPUT_X = 1.5
# Above 90% of the device, the caching allocator's fragmentation or a longer input's KV cache can OOM.
HIGH_MEMORY_SHARE = 0.9
GIB = 1 << 30


@dataclass(frozen=True)
class MemoryUse:
    device: int
    series: str
    peak_bytes: float
    peak_ns: int
    total_bytes: int


def device_totals(run: Run) -> dict[int, int]:
    """NVML device index -> total memory in bytes, from the run's device info."""
    info = (run.metrics.get("gpu") or {}).get("device_info") or []
    return {
        int(d["index"]): int(d["memory_total_bytes"])
        for d in info
        if isinstance(d, dict) and isinstance(d.get("index"), int) and d.get("memory_total_bytes")
    }


def memory_use(run: Run, points: SeriesPoints) -> list[MemoryUse]:
    """Per device, peak memory against its total: NVML's device-wide use (other processes fill the same
    device), else torch's reserved or allocated bytes (assuming torch's device index is NVML's)."""
    totals = device_totals(run)
    chosen: dict[int, tuple[int, str]] = {}
    for series in points:
        parts = split_series(series)
        if parts is None or parts[1] not in totals:
            continue
        rank = {MEM_USED_BYTES: 0, RESERVED_BYTES: 1, ALLOCATED_BYTES: 2}.get(parts[2])
        if rank is not None and (parts[1] not in chosen or rank < chosen[parts[1]][0]):
            chosen[parts[1]] = (rank, series)
    out = []
    for device, (_, series) in sorted(chosen.items()):
        times, values = points[series]
        peak = int(np.argmax(values))
        out.append(MemoryUse(device, series, float(values[peak]), int(times[peak]), totals[device]))
    return out


def _utilisation(run: Run, spans: list[Span], points: SeriesPoints) -> tuple[float, str] | None:
    """Mean GPU utilisation (0-1) during the requests: NVML's reading, else the op trace's busy share."""
    readings: list[np.ndarray] = []
    for series, (times, values) in points.items():
        parts = split_series(series)
        if parts is not None and parts[0] == NVML_PREFIX and parts[2] == UTIL_PCT:
            for span in spans:
                lo, hi = np.searchsorted(times, [span.start_ns, span.end_ns or span.start_ns])
                readings.append(values[lo:hi])
    taken = np.concatenate(readings) if readings else np.zeros(0)
    if taken.size:
        return float(taken.mean()) / 100, "nvml"
    table = gpu_table(run)
    if table is None:
        return None
    work = blocks(table, gpu_rows(table))
    busy = sum(length_ns(clip(work, s.start_ns, s.end_ns or s.start_ns)) for s in spans)
    length = sum((s.end_ns or s.start_ns) - s.start_ns for s in spans)
    return (busy / length, "op trace") if length else None


def _one_at_a_time(spans: list[Span]) -> bool:
    return all(b.start_ns >= (a.end_ns or a.start_ns) for a, b in itertools.pairwise(spans))


@rule("batch_opportunity", "single requests on an under-used GPU with free memory: batch them")
def batch_opportunity(run: Run, baseline: Run | None = None) -> list[Finding]:
    spans = llm_spans(run)
    sized = [s for s in spans if isinstance(s.attrs.get("batch_size"), int)]
    if not sized or any(s.attrs["batch_size"] != 1 for s in sized) or not _one_at_a_time(spans):
        return []
    points = series_points(run.recording)
    used = memory_use(run, points)
    busy = _utilisation(run, sized, points)
    if busy is None or not used or busy[0] >= LOW_UTILISATION:
        return []
    fullest = max(used, key=lambda m: m.peak_bytes / m.total_bytes)
    memory_share = fullest.peak_bytes / fullest.total_bytes
    if memory_share >= MAX_MEMORY_SHARE_TO_BATCH:
        return []
    throughput_x = min(1 / max(busy[0], 1e-3), 1 / memory_share, MAX_BATCH)
    if throughput_x < MIN_THROUGHPUT_X:
        return []
    generating_ms = sum((s.end_ns or s.start_ns) - s.start_ns for s in sized) / 1e6
    # N requests one after another, batched: about N / x rounds of one request's time.
    gain_ms = generating_ms * (1 - 1 / min(len(sized), throughput_x))
    return [
        Finding(
            kind="batch_opportunity",
            severity=severity_of(gain_ms, cell_ms(run)),
            title=f"{len(sized)} request(s) generated one at a time at batch size 1, GPU {busy[0]:.0%} busy "
            f"and {memory_share:.0%} of its memory used",
            evidence={
                "requests": len(sized),
                "gpu_utilisation": busy[0],
                "utilisation_source": busy[1],
                "peak_memory_gib": fullest.peak_bytes / GIB,
                "device_memory_gib": fullest.total_bytes / GIB,
                "memory_share": memory_share,
                "generating_ms": generating_ms,
            },
            pointers=[
                Evidence("span", s.name, s.start_ns / 1e6, (s.end_ns or 0) / 1e6, s.span_id)
                for s in sized[:3]
            ],
            suggestion="batch the prompts (generate() on a padded list, or a server with continuous batching "
            "such as vLLM or TGI); `%%fmprofile --sweep batch_size=1,4,16` measures where throughput stops "
            "growing",
            gain_ms=gain_ms,
            assumption=f"batch-1 decode leaves the GPU idle or bandwidth-bound, so a batch of up to "
            f"{throughput_x:.1f} costs about one request's time per step (bounded by 1/utilisation, "
            f"memory total/peak and {MAX_BATCH}); the cell saves that on its {len(sized)} sequential "
            "request(s)",
            gain={"throughput_x": round(throughput_x, 1)},
        )
    ]


@rule("memory_pressure", "GPU memory close to the device limit: out-of-memory risk")
def memory_pressure(run: Run, baseline: Run | None = None) -> list[Finding]:
    found = []
    for use in memory_use(run, series_points(run.recording)):
        share = use.peak_bytes / use.total_bytes
        if share < HIGH_MEMORY_SHARE:
            continue
        at_ms = use.peak_ns / 1e6
        pointers = [Evidence("time_range", f"peak of {use.series}", at_ms, at_ms, use.series)]
        pointers += [
            Evidence("span", s.name, s.start_ns / 1e6, (s.end_ns or 0) / 1e6, s.span_id)
            for s in run.recording.spans
            if s.end_ns is not None and s.start_ns <= use.peak_ns <= s.end_ns and s.kind == "llm"
        ][:1]
        found.append(
            Finding(
                kind="memory_pressure",
                severity=severity_of(0.0, cell_ms(run)),
                title=f"GPU {use.device} memory peaked at {share:.0%} of the device "
                f"({use.peak_bytes / GIB:.1f} of {use.total_bytes / GIB:.1f} GiB)",
                evidence={
                    "device": use.device,
                    "series": use.series,
                    "peak_gib": use.peak_bytes / GIB,
                    "device_memory_gib": use.total_bytes / GIB,
                    "memory_share": share,
                },
                pointers=pointers,
                suggestion="leave headroom: a smaller batch or max_new_tokens, a bounded KV cache "
                "(max_model_len / gpu_memory_utilization in vLLM, a static cache of fixed size), and "
                "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True against fragmentation",
                gain_ms=0.0,
                assumption="no time to gain in this run: the risk is an out-of-memory error or allocator "
                "retries on a longer input or a larger batch",
            )
        )
    return found
