"""One rank's trace, parsed where an executor runs it: only compact columns come back.

A worker reads one file, converts it to an op table and the communication kernels' columns, measures
the rank's GPU breakdown on the whole table, and returns those (no events, no text). The function is at
module level and its result is plain data, so a process pool or a Dask worker can run it and pickle it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from workbench.analysis.ranks import COMMUNICATION_PATTERN, rank_breakdown
from workbench.importers.kineto import MAX_OPS, KinetoClockMap, ops_from_kineto, read_kineto
from workbench.importers.ranks.comm_args import CommKernels, empty_comm, read_comm_kernels
from workbench.model.ops import OpTable


@dataclass
class RankPart:
    """What a worker returns for one trace file. Times are ns from this trace's own first event."""

    index: int  # the file's position in the input
    source: str
    rank: int | None  # distributedInfo.rank, when the trace says
    start_ns: int  # the first event, in exact absolute ns
    end_ns: int
    base_time_ns: int | None
    ops: OpTable
    comm: CommKernels
    breakdown: dict[str, Any]
    events: int  # complete events in the file (before any cap)
    distributed: dict[str, Any] | None = None
    thread_names: dict[str, str] = field(default_factory=dict)
    process_names: dict[str, str] = field(default_factory=dict)
    kineto: dict[str, Any] = field(default_factory=dict)


def parse_rank(path: str, index: int, max_events: int = MAX_OPS, max_bytes: int | None = None) -> RankPart:
    """The compact part of one rank's trace; `max_events` caps the op table it returns (its breakdown is
    measured first, on every GPU event of the file)."""
    trace = read_kineto(path, max_bytes=max_bytes)
    clock = KinetoClockMap.from_origin_ns(trace.start_ns)
    ops = ops_from_kineto(trace, clock, source=f"import:{Path(path).name}")
    distributed = trace.metadata.get("distributedInfo")
    rank = distributed.get("rank") if isinstance(distributed, dict) else None
    breakdown = rank_breakdown(ops, rank if isinstance(rank, int) else index)
    comm = empty_comm()
    if any(COMMUNICATION_PATTERN.match(name) for name in trace.names):
        comm = read_comm_kernels(path, trace.epoch_ns, clock, max_bytes)
    return RankPart(
        index=index,
        source=str(path),
        rank=rank if isinstance(rank, int) and not isinstance(rank, bool) else None,
        start_ns=trace.start_ns,
        end_ns=trace.end_ns,
        base_time_ns=trace.base_time_ns,
        ops=head(ops, max_events),
        comm=comm,
        breakdown=breakdown,
        events=len(trace),
        distributed=distributed if isinstance(distributed, dict) else None,
        thread_names={f"{pid}/{tid}": label for (pid, tid), label in trace.thread_names.items()},
        process_names={str(pid): label for pid, label in trace.process_names.items()},
        kineto={k: v for k, v in trace.metadata.items() if k not in ("distributedInfo", "traceEvents")},
    )


def head(table: OpTable, count: int) -> OpTable:
    """The first `count` rows (the table is in start order); the rest are counted as dropped."""
    if len(table) <= count:
        return table
    return replace(
        table,
        start_ns=table.start_ns[:count],
        end_ns=table.end_ns[:count],
        category=table.category[:count],
        name_id=table.name_id[:count],
        lane_id=table.lane_id[:count],
        correlation=table.correlation[:count],
        detail_id=table.detail_id[:count],
        dropped=table.dropped + len(table) - count,
    )
