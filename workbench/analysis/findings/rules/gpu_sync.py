"""Host-device synchronisations inside a decode loop: each one drains the GPU's queue, so the host's work
for the next token starts only after the GPU has finished this one and the GPU then idles through it.

Counted per generated token of the run's LLM requests; without GPU work in the trace there is nothing to
wait for (`aten::item` on a CPU tensor is no synchronisation), and without requests there is no decode loop
to point at, so the rule stays silent.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import numpy.typing as npt

from workbench.analysis.findings.model import Evidence, Finding, severity_of
from workbench.analysis.findings.registry import rule
from workbench.analysis.findings.rules.gpu_common import (
    Blocks,
    blocks,
    cell_ms,
    clip,
    gaps,
    gpu_rows,
    gpu_table,
    length_ns,
    llm_spans,
    merge,
    request_tokens,
)
from workbench.analysis.gpu_ops import SYNC_CALLS, host_calls
from workbench.model.ops import CATEGORY_CODE, NO_CORRELATION, OpTable
from workbench.model.run import Run

# Ops that copy a GPU scalar or tensor to the host and so wait for the GPU (`.item()`, `.cpu()`, `.tolist()`).
SYNC_OPS = frozenset({"aten::item", "aten::_local_scalar_dense"})
# A copy to the host waits for the work queued before it.
DEVICE_TO_HOST = "DtoH"
# cudaStreamWaitEvent orders two streams on the GPU; the host does not wait in it.
HOST_WAITS = SYNC_CALLS - {"cudaStreamWaitEvent"}
# One sync at the end of a request (reading the output) is normal; one every other token is the loop's.
MIN_SYNCS_PER_TOKEN = 0.5
# Fewer tokens than this is not a loop worth a finding.
MIN_TOKENS = 8
MAX_POINTERS = 3


def sync_rows(table: OpTable) -> npt.NDArray[np.bool_]:
    """Host events that wait for the GPU: sync calls, scalar reads, launches of device-to-host copies."""
    ops = np.isin(table.name_id, [i for i, name in enumerate(table.names) if name in SYNC_OPS])
    ops &= table.category == CATEGORY_CODE["cpu_op"]
    to_host = (table.category == CATEGORY_CODE["gpu_memcpy"]) & np.isin(
        table.name_id, [i for i, name in enumerate(table.names) if DEVICE_TO_HOST in name]
    )
    correlations = table.correlation[to_host & (table.correlation != NO_CORRELATION)]
    runtime = table.mask(("cuda_runtime", "cuda_driver"))
    copies = runtime & np.isin(table.correlation, correlations)
    return host_calls(table, HOST_WAITS) | ops | copies


@rule("sync_in_decode", "host-device synchronisations inside the decode loop, per generated token")
def sync_in_decode(run: Run, baseline: Run | None = None) -> list[Finding]:
    table = gpu_table(run)
    spans = llm_spans(run)
    if table is None or not spans:
        return []
    tokens = request_tokens(run, spans)
    syncing = sync_rows(table)
    points = merge(table.start_ns[syncing], table.end_ns[syncing])  # nested calls count as one sync
    gpu = blocks(table, gpu_rows(table))
    found = waited_ns = gain_ns = busy_ns = n_tokens = 0
    per_span: list[tuple[int, int]] = []
    for span in spans:
        end = span.end_ns or span.start_ns
        inside = clip(points, span.start_ns, end)
        busy = clip(gpu, span.start_ns, end)
        idle = gaps(busy, span.start_ns, end)
        found += inside[0].size
        waited_ns += length_ns(inside)
        busy_ns += length_ns(busy)
        n_tokens += tokens[span.span_id]
        gain_ns += _idle_after(inside[1], idle)
        per_span.append((inside[0].size, span.span_id))
    if n_tokens < MIN_TOKENS or found / n_tokens < MIN_SYNCS_PER_TOKEN:
        return []
    # Without the syncs the GPU cannot overlap more host work than it has GPU work of its own.
    gain_ms = min(gain_ns, busy_ns) / 1e6
    names = Counter(table.names[int(i)] for i in table.name_id[syncing])
    by_id = {s.span_id: s for s in spans}
    pointers = [
        Evidence("span", by_id[i].name, by_id[i].start_ns / 1e6, (by_id[i].end_ns or 0) / 1e6, i)
        for count, i in sorted(per_span, reverse=True)[:MAX_POINTERS]
        if count
    ]
    return [
        Finding(
            kind="sync_in_decode",
            severity=severity_of(gain_ms, cell_ms(run)),
            title=f"{found} host-device syncs in {n_tokens} generated tokens "
            f"({found / n_tokens:.1f} per token), {waited_ns / 1e6:.1f} ms waiting",
            evidence={
                "syncs": found,
                "tokens": n_tokens,
                "syncs_per_token": found / n_tokens,
                "wait_ms": waited_ns / 1e6,
                "gpu_idle_after_sync_ms": gain_ns / 1e6,
                "calls": dict(names.most_common(5)),
            },
            pointers=pointers,
            suggestion="keep tensors on the GPU inside the loop: drop .item()/.cpu()/print of GPU values per "
            "step, check stop conditions every N tokens or on the GPU (torch.where), and read results "
            "once after the loop",
            gain_ms=gain_ms,
            assumption="without the syncs the host queues the next step while the GPU runs this one: the GPU "
            "idle that follows each sync is hidden, up to the GPU's own busy time",
        )
    ]


def _idle_after(sync_ends: npt.NDArray[np.int64], idle: Blocks) -> int:
    """GPU idle time from each sync's end to the next GPU work (the host's turn that the sync serialised)."""
    if sync_ends.size == 0 or idle[0].size == 0:
        return 0
    index = np.searchsorted(idle[0], sync_ends, side="right") - 1
    valid = index >= 0
    index = index[valid]
    ends = sync_ends[valid]
    within = idle[1][index] > ends
    # Two syncs in one idle stretch: the GPU waited from the first one's end, once.
    blocks_hit, first = np.unique(index[within], return_index=True)
    return int((idle[1][blocks_hit] - ends[within][first]).sum())
