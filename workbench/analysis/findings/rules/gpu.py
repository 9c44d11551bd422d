"""GPU time lost to the host: the GPU idles while Python and the dispatcher work (host-bound decode), or
while each of many tiny kernels waits for its launch.

Both read the op trace only (torch.profiler's host ops and GPU kernels); without GPU work they say nothing.
The other GPU rules are in `gpu_sync` (synchronisations in the decode loop) and `gpu_memory` (batching
headroom, memory pressure).
"""

from __future__ import annotations

import numpy as np

from workbench.analysis.findings.model import Evidence, Finding, severity_of
from workbench.analysis.findings.registry import rule
from workbench.analysis.findings.rules.gpu_common import (
    Window,
    blocks,
    cell_ms,
    cell_window,
    clip,
    decode_windows,
    gaps,
    gpu_rows,
    gpu_table,
    host_rows,
    length_ns,
    llm_spans,
    overlap_ns,
    request_tokens,
)
from workbench.analysis.gpu_ops import host_calls
from workbench.model.ops import CATEGORY_CODE, LAUNCH_CALLS
from workbench.model.run import Run

# A GPU idle a third of the time is leaving throughput on the table; below that, gaps are ordinary
# scheduling noise between steps.
MIN_IDLE_SHARE = 0.3
# The idle must be the host's doing: when host ops cover less than half of it, the GPU waits on something
# else (I/O, a sleep, another process) and overlapping host work would not help.
MIN_HOST_SHARE_OF_IDLE = 0.5
# Under a millisecond is not worth a finding, whatever the shares.
MIN_GAIN_MS = 1.0

# Fewer kernels than this is a handful of launches, not a pattern.
MIN_KERNELS = 100
# "Tiny" kernels: a median kernel shorter than two median launches cannot keep the GPU ahead of the host.
TINY_KERNEL_RATIO = 2.0
# A gap this short between GPU work is one op's dispatch and launch (eager PyTorch spends 10-50 us per op);
# longer gaps are host work of their own, which host_bound reports.
MAX_LAUNCH_GAP_NS = 100_000
# Launch gaps a fifth of the GPU's active time or more: CUDA graphs would shorten the GPU's part that much.
MIN_LAUNCH_SHARE = 0.2
TOP_KERNELS = 3


def _host_bound_windows(run: Run) -> list[Window]:
    """Decode windows; for the whole cell, only from the first GPU work to the last (set-up is not decode)."""
    windows = decode_windows(run)
    table = run.recording.ops
    if windows[0].span is not None or table is None:
        return windows
    work = gpu_rows(table)
    cell = windows[0]
    first, last = int(table.start_ns[work].min()), int(table.end_ns[work].max())
    return [Window(max(cell.start_ns, first), min(cell.end_ns, last))]


@rule("host_bound", "the GPU idles while the host runs ops (host-bound decode)")
def host_bound(run: Run, baseline: Run | None = None) -> list[Finding]:
    table = gpu_table(run)
    if table is None:
        return []
    gpu, host = blocks(table, gpu_rows(table)), blocks(table, host_rows(table))
    window_ns = busy_ns = idle_ns = host_idle_ns = 0
    worst: tuple[int, Window] | None = None
    for window in _host_bound_windows(run):
        busy = clip(gpu, window.start_ns, window.end_ns)
        idle = gaps(busy, window.start_ns, window.end_ns)
        hidden = overlap_ns(clip(host, window.start_ns, window.end_ns), idle)
        window_ns += window.length_ns
        busy_ns += length_ns(busy)
        idle_ns += length_ns(idle)
        host_idle_ns += hidden
        if worst is None or hidden > worst[0]:
            worst = (hidden, window)
    if (
        worst is None
        or window_ns == 0
        or idle_ns / window_ns < MIN_IDLE_SHARE
        or host_idle_ns / max(idle_ns, 1) < MIN_HOST_SHARE_OF_IDLE
        or host_idle_ns / 1e6 < MIN_GAIN_MS
    ):
        return []
    where = worst[1]
    scope = "generation" if where.span is not None else "the time from first to last GPU work"
    pointer = (
        Evidence("span", where.span.name, where.start_ns / 1e6, where.end_ns / 1e6, where.span.span_id)
        if where.span is not None
        else Evidence("time_range", "first to last GPU work", where.start_ns / 1e6, where.end_ns / 1e6)
    )
    gain_ms = host_idle_ns / 1e6
    return [
        Finding(
            kind="host_bound",
            severity=severity_of(gain_ms, cell_ms(run)),
            title=f"GPU idle {idle_ns / window_ns:.0%} of {scope}, mostly while the host runs ops",
            evidence={
                "window_ms": window_ns / 1e6,
                "gpu_busy_ms": busy_ns / 1e6,
                "gpu_idle_ms": idle_ns / 1e6,
                "gpu_idle_share": idle_ns / window_ns,
                "host_busy_while_idle_ms": host_idle_ns / 1e6,
                "host_share_of_idle": host_idle_ns / max(idle_ns, 1),
            },
            pointers=[pointer],
            suggestion="take Python and dispatch off the GPU's path: capture the decode step as a CUDA graph "
            '(torch.compile(mode="reduce-overhead") or a static KV cache), move host pre/post-processing off '
            "the loop, or use a serving engine that schedules the next step while the GPU runs this one",
            gain_ms=gain_ms,
            assumption="if the host stayed ahead of the GPU (its per-step work shorter than, and overlapped "
            "with, the GPU's), the GPU time idle while host ops run would vanish; GPU work unchanged",
        )
    ]


@rule("launch_overhead", "many tiny kernels: the GPU waits on kernel launches")
def launch_overhead(run: Run, baseline: Run | None = None) -> list[Finding]:
    table = gpu_table(run)
    if table is None:
        return []
    cell = cell_window(run)
    inside = (table.start_ns >= cell.start_ns) & (table.end_ns <= cell.end_ns)
    kernels = inside & (table.category == CATEGORY_CODE["kernel"])
    launches = inside & host_calls(table, LAUNCH_CALLS)
    if int(kernels.sum()) < MIN_KERNELS or not launches.any():
        return []
    kernel_median = float(np.median(table.duration_ns[kernels]))
    launch_median = float(np.median(table.duration_ns[launches]))
    busy = clip(blocks(table, gpu_rows(table)), cell.start_ns, cell.end_ns)
    between = busy[0][1:] - busy[1][:-1]
    launch_gaps = between[between <= MAX_LAUNCH_GAP_NS]
    launch_bound_ns = int(launch_gaps.sum())
    active_ns = length_ns(busy) + launch_bound_ns
    share = launch_bound_ns / active_ns if active_ns else 0.0
    if kernel_median > TINY_KERNEL_RATIO * launch_median or share < MIN_LAUNCH_SHARE:
        return []
    evidence: dict[str, float | int] = {
        "kernels": int(kernels.sum()),
        "median_kernel_us": kernel_median / 1e3,
        "median_launch_us": launch_median / 1e3,
        "launch_gaps": int(launch_gaps.size),
        "launch_bound_ms": launch_bound_ns / 1e6,
        "gpu_busy_ms": length_ns(busy) / 1e6,
        "launch_share": share,
    }
    spans = llm_spans(run)
    tokens = sum(request_tokens(run, spans).values())
    if tokens:
        in_requests = np.zeros(len(table), dtype=bool)
        for s in spans:
            in_requests |= (table.start_ns >= s.start_ns) & (table.start_ns < (s.end_ns or s.start_ns))
        evidence["launches_per_token"] = int((launches & in_requests).sum()) / tokens
    gain_ms = launch_bound_ns / 1e6
    return [
        Finding(
            kind="launch_overhead",
            severity=severity_of(gain_ms, cell_ms(run)),
            title=f"{int(kernels.sum())} tiny kernels (median {kernel_median / 1e3:.0f} us, launch "
            f"{launch_median / 1e3:.0f} us): the GPU waits on launches {share:.0%} of its active time",
            evidence=evidence,
            pointers=_kernel_pointers(run, kernels, launch_median),
            suggestion='replay the step as a CUDA graph (torch.compile(mode="reduce-overhead"), '
            "torch.cuda.graphs), fuse small ops with torch.compile, or batch more work per launch "
            "(larger batches)",
            gain_ms=gain_ms,
            assumption=f"a graph replays the kernels back to back: the gaps of at most "
            f"{MAX_LAUNCH_GAP_NS / 1e3:.0f} us between GPU work vanish, the kernels take as long as now",
        )
    ]


def _kernel_pointers(run: Run, kernels: np.ndarray, launch_median: float) -> list[Evidence]:
    """The most frequent kernels shorter than a launch, each at its first occurrence."""
    table = run.recording.ops
    assert table is not None
    tiny = np.flatnonzero(kernels & (table.duration_ns < launch_median * TINY_KERNEL_RATIO))
    ids, first, counts = np.unique(table.name_id[tiny], return_index=True, return_counts=True)
    pointers = []
    for i in np.argsort(-counts, kind="stable")[:TOP_KERNELS]:
        row = int(tiny[first[i]])
        name = table.names[int(ids[i])]
        label = f"{name[:60]} ×{int(counts[i])}"
        pointers.append(Evidence("kernel", label, table.start_ns[row] / 1e6, table.end_ns[row] / 1e6, name))
    return pointers
