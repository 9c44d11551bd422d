"""Several ranks' torch.profiler traces as one run: parsed in parallel, merged on one clock.

    run = import_ranks(["rank-0.json.gz", "rank-1.json.gz"], executor=client.get_executor())

Each file is one task on a `concurrent.futures.Executor` (a local process pool by default; a Dask
`distributed` client's executor works the same), and each task returns compact columns only
(`worker.RankPart`), so a worker's memory is bounded by its own rank's trace.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

from workbench.analysis.collectives import match_collectives
from workbench.analysis.gpu import gpu_metrics
from workbench.analysis.ranks import gpu_window_ns, rank_breakdown
from workbench.importers.kineto import MAX_OPS, read_kineto, run_from_kineto
from workbench.importers.ranks.inputs import TraceSource, trace_files
from workbench.importers.ranks.merge import Merged, merge_parts
from workbench.importers.ranks.worker import RankPart, parse_rank
from workbench.model.run import Run

__all__ = [
    "Merged",
    "RankPart",
    "TraceSource",
    "import_ranks",
    "imported_run",
    "parse_parts",
    "trace_files",
]

# The op table a run keeps is shared among its ranks (`kineto.MAX_OPS` in all), with this floor per rank.
MIN_OPS_PER_RANK = 50_000


def parse_parts(
    files: Sequence[Path], executor: Executor | None = None, workers: int | None = None
) -> list[RankPart]:
    """Every file's `RankPart`, through `executor`, else a local process pool of `workers` processes
    (default: one per file, at most the CPUs), else in this process for a single file or `workers=1`."""
    cap = max(MAX_OPS // max(len(files), 1), MIN_OPS_PER_RANK)
    args = [(str(path), index, cap) for index, path in enumerate(files)]
    if executor is not None:
        return _gather(executor, args)
    count = min(workers or os.cpu_count() or 1, len(files))
    if count <= 1:
        return [parse_rank(*a) for a in args]
    with ProcessPoolExecutor(max_workers=count) as pool:
        return _gather(pool, args)


def _gather(executor: Executor, args: list[tuple[str, int, int]]) -> list[RankPart]:
    futures = [executor.submit(parse_rank, *a) for a in args]
    return [future.result() for future in futures]


def import_ranks(
    source: TraceSource, name: str | None = None, executor: Executor | None = None, workers: int | None = None
) -> Merged:
    """Several traces as one run, with its per-rank GPU breakdown and matched collectives measured."""
    files = trace_files(source)
    merged = merge_parts(parse_parts(files, executor, workers), name or _default_name(files))
    merged.collectives = match_collectives(merged.comm)
    return merged


def imported_run(
    source: TraceSource, name: str | None = None, executor: Executor | None = None, workers: int | None = None
) -> Run:
    """The run `wb.load_kineto` makes, with `metrics["gpu"]` measured over first-to-last GPU work.

    One file keeps the single-trace import (`run_from_kineto`) and gains a one-element rank list; several
    become one run with a lane group per rank."""
    files = trace_files(source)
    if len(files) == 1:
        run = run_from_kineto(read_kineto(files[0]), name=name)
        table = run.recording.ops
        info = run.environment.get("distributed")
        rank = info.get("rank") if isinstance(info, dict) else None
        ranks = [rank_breakdown(table, rank if isinstance(rank, int) else 0)] if table is not None else []
        collectives = None
    else:
        merged = import_ranks(files, name, executor, workers)
        run, ranks, collectives = merged.run, merged.breakdowns, merged.collectives
    table = run.recording.ops
    window = (gpu_window_ns(table) if table is not None else None) or (0, run.duration_ns)
    gpu = gpu_metrics(run.recording, window)
    if gpu is not None:
        gpu["window_kind"] = "first to last GPU work" if window != (0, run.duration_ns) else "whole trace"
        gpu["ranks"] = ranks
        if collectives is not None:
            gpu["collectives"] = collectives
        run.metrics["gpu"] = gpu
    return run


def _default_name(files: Sequence[Path]) -> str:
    parents = {f.parent for f in files}
    if len(parents) == 1:
        return next(iter(parents)).resolve().name or "ranks"
    return f"{len(files)} ranks"
