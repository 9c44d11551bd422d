"""A server's torch.profiler traces (one per worker rank) joined to a profiled run, on the run's clock.

The traces are parsed by the multi-rank importer (`importers.ranks.imported_run`: ranks from their
`distributedInfo`, else file order, aligned with each other on their wall clocks). Kineto stamps events
on the host's wall clock (`baseTimeNanoseconds` plus relative µs), the run has a wall-clock origin: the
offset between the two puts the server's work on the run clock. The server's lanes join the run's op
table labelled "server rank N · …", and `run.environment["ranks"]` says which lanes are which rank, so
the op timeline, the rank panel and `run.metrics["gpu"]["ranks"]` show them.
"""

from __future__ import annotations

import multiprocessing
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from workbench.analysis.ranks import rank_breakdown
from workbench.model.ops import NO_CORRELATION, NO_DETAIL, OpLane, OpTable
from workbench.model.run import Run

SERVER_LANE = "server rank {rank} · {label}"
_RANK_PREFIX = re.compile(r"^rank \d+ · ")


def import_server_traces(run: Run, files: Sequence[Path]) -> list[str]:
    """Add the traces' ops to `run` on its clock; the notes worth telling the user (clock assumptions)."""
    from workbench.importers.ranks import imported_run

    if len(files) > 1:
        # Not forked from a kernel's threads: a fresh interpreter per worker.
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(max_workers=min(len(files), 4), mp_context=context) as pool:
            server = imported_run(list(files), "server", executor=pool)
    else:
        server = imported_run(list(files), "server")
    table = server.recording.ops
    if table is None or not len(table):
        return [f"server profile: the server's traces ({_names(files)}) hold no events"]
    offset_ns = round((server.origin_wall_s - run.origin_wall_s) * 1e9)
    lane_rank = _lane_ranks(server, len(table.lanes))
    table = _relabelled(table, lane_rank)
    base = run.recording.ops
    merged, first_lane = _joined(base, table, offset_ns)
    run.recording.ops = merged
    ranks = sorted(set(lane_rank))
    run.environment["ranks"] = [
        {
            "rank": rank,
            "label": f"server rank {rank}",
            "lanes": [first_lane + i for i, r in enumerate(lane_rank) if r == rank],
            "offset_ms": offset_ns / 1e6,
        }
        for rank in ranks
    ]
    run.environment["server_profile"] = {
        "files": [str(f) for f in files],
        "offset_ms": offset_ns / 1e6,
        "events": len(table),
        "clock": "Kineto's wall clock (baseTimeNanoseconds) against the run's wall-clock origin",
    }
    notes = [str(n) for n in server.environment.get("clock_notes") or [] if "not on a wall clock" in str(n)]
    return [f"server profile: {note}" for note in notes]


def server_rank_metrics(run: Run) -> list[dict[str, Any]]:
    """`run.metrics["gpu"]["ranks"]` for the server ranks joined to the run (HTA's per-rank breakdown)."""
    table = run.recording.ops
    entries = run.environment.get("ranks") or []
    if table is None or not entries:
        return []
    rows = []
    for entry in entries:
        lanes = np.asarray(entry.get("lanes") or [], np.int64)
        mask = np.isin(table.lane_id, lanes)
        rows.append({**rank_breakdown(table, int(entry["rank"]), mask), "label": entry.get("label", "")})
    return rows


def _names(files: Sequence[Path]) -> str:
    return ", ".join(f.name for f in files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")


def _lane_ranks(server: Run, lanes: int) -> list[int]:
    ranks = [0] * lanes
    entries = server.environment.get("ranks")
    if entries:
        for entry in entries:
            for lane in entry.get("lanes") or []:
                ranks[int(lane)] = int(entry["rank"])
        return ranks
    info = server.environment.get("distributed")
    rank = info.get("rank") if isinstance(info, dict) else None
    return [rank if isinstance(rank, int) and not isinstance(rank, bool) else 0] * lanes


def _relabelled(table: OpTable, lane_rank: list[int]) -> OpTable:
    lanes = [
        OpLane(
            lane.kind,
            lane.device,
            lane.ident,
            SERVER_LANE.format(rank=rank, label=_RANK_PREFIX.sub("", lane.label)),
        )
        for lane, rank in zip(table.lanes, lane_rank, strict=True)
    ]
    table.lanes = lanes
    return table


def _joined(base: OpTable | None, server: OpTable, offset_ns: int) -> tuple[OpTable, int]:
    """One table in start order: the run's own ops, then the server's shifted onto the run clock (names and
    details re-interned, lanes after the run's, correlation ids past the run's so none links across)."""
    if base is None:
        base = OpTable.empty(source="")
    names = {n: i for i, n in enumerate(base.names)}
    details = {d: i for i, d in enumerate(base.details)}
    name_map = np.array([names.setdefault(n, len(names)) for n in server.names] + [0], np.int32)
    detail_map = np.array(
        [details.setdefault(d, len(details)) for d in server.details] + [NO_DETAIL], np.int32
    )
    first_lane = len(base.lanes)
    offset_corr = int(base.correlation.max()) + 1 if len(base) else 0
    has_id = server.correlation != NO_CORRELATION
    columns: dict[str, npt.NDArray[Any]] = {
        "start": np.concatenate((base.start_ns, server.start_ns + offset_ns)),
        "end": np.concatenate((base.end_ns, server.end_ns + offset_ns)),
        "cat": np.concatenate((base.category, server.category)),
        "name": np.concatenate((base.name_id, name_map[server.name_id])),
        "lane": np.concatenate((base.lane_id, server.lane_id + first_lane)),
        "corr": np.concatenate(
            (base.correlation, np.where(has_id, server.correlation + offset_corr, NO_CORRELATION))
        ),
        "detail": np.concatenate((base.detail_id, detail_map[server.detail_id])),
    }
    order = np.argsort(columns["start"], kind="stable")
    merged = OpTable(
        start_ns=columns["start"][order].astype(np.int64),
        end_ns=columns["end"][order].astype(np.int64),
        category=columns["cat"][order].astype(np.uint8),
        name_id=columns["name"][order].astype(np.int32),
        lane_id=columns["lane"][order].astype(np.int32),
        correlation=columns["corr"][order].astype(np.int64),
        detail_id=columns["detail"][order].astype(np.int32),
        names=list(names),
        lanes=[*base.lanes, *server.lanes],
        details=list(details),
        source=" + ".join(s for s in (base.source, "server profile") if s),
        dropped=base.dropped + server.dropped,
        gpu_note="; ".join(n for n in (base.gpu_note, server.gpu_note) if n),
        devices=[*base.devices, *server.devices],
    )
    return merged, first_lane
