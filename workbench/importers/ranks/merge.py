"""Rank parts merged into one run: one clock, one op table with a lane group per rank.

Clock: Kineto stamps each trace on the host's wall clock (`baseTimeNanoseconds` + relative µs since
torch 2.x, absolute Unix µs before), so the ranks of a job share a base and the run clock starts at the
earliest first event of any rank. A trace whose times cannot be on the wall clock (no base and times
before 2001: a relative clock) is placed with its first event at the run's start; the run's notes say so.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from workbench.importers.ranks.comm_args import CommKernels
from workbench.importers.ranks.worker import RankPart
from workbench.model.events import Annotation
from workbench.model.ops import NO_CORRELATION, NO_DETAIL, OpLane, OpTable
from workbench.model.recording import Recording
from workbench.model.run import Run

# 2001-01-01 in Unix ns: a trace without a base whose first event is earlier has a relative clock.
WALL_CLOCK_MIN_NS = 978_307_200 * 10**9


@dataclass
class Merged:
    run: Run
    comm: dict[int, CommKernels]
    breakdowns: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    collectives: dict[str, Any] | None = None


def assign_ranks(parts: list[RankPart]) -> tuple[list[int], list[str]]:
    """Each part's rank: distributedInfo.rank when every trace has one and they differ, else file order."""
    declared = [p.rank for p in parts]
    if all(r is not None for r in declared) and len(set(declared)) == len(declared):
        return [int(r) for r in declared if r is not None], []
    why = "some traces have no distributedInfo.rank" if None in declared else "traces repeat a rank"
    return [p.index for p in parts], [f"ranks numbered in file order: {why}"]


def merge_parts(parts: list[RankPart], name: str) -> Merged:
    parts = sorted(parts, key=lambda p: p.index)
    ranks, notes = assign_ranks(parts)
    order = sorted(range(len(parts)), key=lambda i: ranks[i])
    parts, ranks = [parts[i] for i in order], [ranks[i] for i in order]
    shifts, clock_notes = _shifts(parts, ranks)
    notes += clock_notes
    origin = min(p.start_ns for p in parts)
    table, lane_groups = _merge_tables([p.ops for p in parts], ranks, shifts)
    duration_ns = max(max(p.end_ns - p.start_ns + s for p, s in zip(parts, shifts, strict=True)), 1)
    breakdowns = []
    for part, rank, shift in zip(parts, ranks, shifts, strict=True):
        row = dict(part.breakdown, rank=rank)
        if row.get("first_gpu_ms") is not None:
            row["first_gpu_ms"] = row["first_gpu_ms"] + shift / 1e6
        breakdowns.append(row)
    environment = _environment(parts, ranks, shifts, lane_groups, notes)
    run = Run(
        id=f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}",
        name=name,
        created=datetime.fromtimestamp(origin / 1e9).astimezone().isoformat(timespec="seconds"),
        duration_ns=duration_ns,
        origin_wall_s=origin / 1e9,
        environment=environment,
        recording=Recording(ops=table),
        metrics={"wall_s": duration_ns / 1e9, "cell_start_ms": 0.0, "cell_end_ms": duration_ns / 1e6},
        annotations=[Annotation(None, note, author="workbench import") for note in notes],
    )
    comm = {rank: p.comm.shifted(s) for p, rank, s in zip(parts, ranks, shifts, strict=True)}
    return Merged(run, comm, breakdowns, notes)


def _shifts(parts: list[RankPart], ranks: list[int]) -> tuple[list[int], list[str]]:
    """Each part's offset from its own first event to the run clock, and what was assumed."""
    on_wall = [p.base_time_ns is not None or p.start_ns >= WALL_CLOCK_MIN_NS for p in parts]
    anchored = [p.start_ns for p, wall in zip(parts, on_wall, strict=True) if wall]
    origin = min(anchored) if anchored else min(p.start_ns for p in parts)
    notes, shifts = [], []
    for part, rank, wall in zip(parts, ranks, on_wall, strict=True):
        if wall or not anchored:
            shifts.append(part.start_ns - origin)
        else:
            shifts.append(0)
            notes.append(
                f"rank {rank} ({part.source}): its times are not on a wall clock (no baseTimeNanoseconds, "
                "times before 2001); its first event was placed at the run's start"
            )
    without_base = [r for p, r in zip(parts, ranks, strict=True) if p.base_time_ns is None]
    if without_base and len(parts) > 1:
        listed = ", ".join(str(r) for r in without_base)
        notes.append(
            f"rank(s) {listed}: no baseTimeNanoseconds; their timestamps were taken as absolute µs on the "
            "same wall clock as the other ranks"
        )
    if len(parts) > 1:
        notes.append(
            "ranks aligned on their traces' wall clocks (baseTimeNanoseconds, or absolute µs); across hosts "
            "this is as good as the hosts' clock synchronisation (NTP: often within a millisecond)"
        )
    return shifts, notes


def _merge_tables(
    tables: list[OpTable], ranks: list[int], shifts: list[int]
) -> tuple[OpTable, list[list[int]]]:
    """One table in start order; names and details re-interned, lanes labelled by rank, correlation ids
    offset per rank so that a launch never links to another rank's kernel."""
    names: dict[str, int] = {}
    details: dict[str, int] = {}
    lanes: list[OpLane] = []
    columns: dict[str, list[Any]] = {k: [] for k in ("start", "end", "cat", "name", "lane", "corr", "detail")}
    lane_groups, correlation_offset = [], 0
    for table, rank, shift in zip(tables, ranks, shifts, strict=True):
        name_map = np.array([names.setdefault(n, len(names)) for n in table.names] + [0], np.int32)
        detail_map = np.array(
            [details.setdefault(d, len(details)) for d in table.details] + [NO_DETAIL], np.int32
        )
        lane_groups.append(list(range(len(lanes), len(lanes) + len(table.lanes))))
        columns["lane"].append(table.lane_id + len(lanes))
        lanes += [
            OpLane(lane.kind, lane.device, lane.ident, f"rank {rank} · {lane.label}") for lane in table.lanes
        ]
        columns["start"].append(table.start_ns + shift)
        columns["end"].append(table.end_ns + shift)
        columns["cat"].append(table.category)
        columns["name"].append(name_map[table.name_id])
        columns["detail"].append(detail_map[table.detail_id])
        has_id = table.correlation != NO_CORRELATION
        columns["corr"].append(np.where(has_id, table.correlation + correlation_offset, NO_CORRELATION))
        if len(table):
            correlation_offset += int(table.correlation.max()) + 1
    joined = {k: np.concatenate(v) for k, v in columns.items()}
    order = np.argsort(joined["start"], kind="stable")
    merged = OpTable(
        start_ns=joined["start"][order].astype(np.int64),
        end_ns=joined["end"][order].astype(np.int64),
        category=joined["cat"][order].astype(np.uint8),
        name_id=joined["name"][order].astype(np.int32),
        lane_id=joined["lane"][order].astype(np.int32),
        correlation=joined["corr"][order].astype(np.int64),
        detail_id=joined["detail"][order].astype(np.int32),
        names=list(names),
        lanes=lanes,
        details=list(details),
        source=f"import:{len(tables)} ranks",
        dropped=sum(t.dropped for t in tables),
        gpu_note="; ".join(t.gpu_note for t in tables if t.gpu_note),
        devices=[d for t in tables for d in t.devices],
    )
    return merged, lane_groups


def _environment(
    parts: list[RankPart], ranks: list[int], shifts: list[int], lane_groups: list[list[int]], notes: list[str]
) -> dict[str, Any]:
    return {
        "imported_from": [p.source for p in parts],
        "gpus": [str(d.get("name", "")) for p in parts for d in p.ops.devices],
        "distributed": parts[0].distributed,
        "kineto": parts[0].kineto,
        "threads": {
            f"rank {r}/{k}": v for p, r in zip(parts, ranks, strict=True) for k, v in p.thread_names.items()
        },
        "processes": {
            f"rank {r}/{k}": v for p, r in zip(parts, ranks, strict=True) for k, v in p.process_names.items()
        },
        "ranks": [
            {
                "rank": rank,
                "source": part.source,
                "lanes": lanes,
                "offset_ms": shift / 1e6,
                "base_time_ns": part.base_time_ns,
                "events": part.events,
                "distributed": part.distributed,
            }
            for part, rank, shift, lanes in zip(parts, ranks, shifts, lane_groups, strict=True)
        ],
        "clock_notes": notes,
    }
