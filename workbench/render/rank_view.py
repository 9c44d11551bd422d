"""The view-model of the rank panel: one table row and one timeline lane per rank of an imported job.

The table is `metrics["gpu"]["ranks"]` beside each rank's wait at collectives; the lanes show when each
rank's GPU computed, communicated or copied, reduced to screen resolution: blocks closer than a pixel
merge, so a million kernels become at most a few thousand bars.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.analysis.ranks import COMMUNICATION, COMPUTATION, MEMORY, merge, name_types
from workbench.model.ops import GPU_WORK
from workbench.model.run import Run

LANE_KINDS = {COMPUTATION: "compute", COMMUNICATION: "communication", MEMORY: "memory"}
PIXELS = 2000  # bars per lane at most: about the width of a wide screen


@dataclass(frozen=True)
class RankRow:
    rank: int
    window_ms: float
    busy_ms: float
    idle_ms: float
    compute_ms: float
    non_compute_ms: float
    communication_ms: float
    overlap: float | None
    kernel_count: int
    wait_ms: float | None
    last_count: int | None


@dataclass
class RankView:
    rows: list[RankRow]
    # One bar per (rank, kind) block: rank, kind, start and end on the run clock in ms.
    bars: dict[str, list[Any]] = field(default_factory=dict)
    stragglers: str = ""
    method: str = ""

    @property
    def empty(self) -> bool:
        return len(self.rows) < 2

    @classmethod
    def from_run(cls, run: Run) -> RankView:
        gpu = run.metrics.get("gpu") or {}
        collectives = gpu.get("collectives") or {}
        waits = {int(r["rank"]): r for r in collectives.get("ranks") or []}
        rows = [_row(r, waits.get(int(r["rank"]))) for r in gpu.get("ranks") or []]
        view = cls(rows=rows, method=str(collectives.get("method", "")))
        if view.empty:
            return view
        view.bars = _bars(run)
        view.stragglers = ", ".join(
            f"rank {s['rank']} last at {s['last_count']} of {collectives.get('matched', 0)}"
            for s in (collectives.get("stragglers") or [])[:3]
        )
        return view


def _row(r: dict[str, Any], wait: dict[str, Any] | None) -> RankRow:
    return RankRow(
        rank=int(r["rank"]),
        window_ms=float(r["window_ms"]),
        busy_ms=float(r["busy_ms"]),
        idle_ms=float(r["idle_ms"]),
        compute_ms=float(r["compute_ms"]),
        non_compute_ms=float(r["non_compute_ms"]),
        communication_ms=float(r.get("communication_ms") or 0.0),
        overlap=r.get("comm_comp_overlap"),
        kernel_count=int(r["kernel_count"]),
        wait_ms=None if wait is None else float(wait["wait_ms"]),
        last_count=None if wait is None else int(wait["last_count"]),
    )


def _bars(run: Run) -> dict[str, list[Any]]:
    table = run.recording.ops
    bars: dict[str, list[Any]] = {"rank": [], "kind": [], "start_ms": [], "end_ms": []}
    if table is None:
        return bars
    lane_rank = np.full(len(table.lanes), -1, np.int64)
    for entry in run.environment.get("ranks") or []:
        lane_rank[np.asarray(entry.get("lanes") or [], np.int64)] = int(entry["rank"])
    work = table.mask(GPU_WORK)
    types = name_types(table.names)[table.name_id] if len(table) else np.zeros(0, np.int8)
    rows_rank = lane_rank[table.lane_id] if len(table) else np.zeros(0, np.int64)
    span_ns = max(int(table.end_ns.max() - table.start_ns.min()) if len(table) else 1, 1)
    pixel_ns = max(span_ns // PIXELS, 1)
    for rank in sorted(set(rows_rank[work].tolist()) - {-1}):
        for code, kind in LANE_KINDS.items():
            rows = work & (rows_rank == rank) & (types == code)
            # Widen each event to the next pixel so blocks less than a pixel apart merge into one bar.
            starts, ends = merge(table.start_ns[rows], table.end_ns[rows] + pixel_ns)
            bars["rank"] += [f"rank {rank}"] * starts.size
            bars["kind"] += [kind] * starts.size
            bars["start_ms"] += (starts / 1e6).tolist()
            bars["end_ms"] += (np.maximum(ends - pixel_ns, starts + 1) / 1e6).tolist()
    return bars
