"""`wb.load_kineto()` and `workbench import`: a torch.profiler trace recorded anywhere, as a saved run."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Executor
from pathlib import Path

from workbench.analysis.findings import find_bottlenecks
from workbench.model.events import CollectorStatus
from workbench.model.run import Run
from workbench.store import rundir
from workbench.store.index import default_store, runs_dir


def load_kineto(
    path: str | Path | Iterable[str | Path],
    name: str | None = None,
    store: str | Path | None = None,
    save: bool = True,
    executor: Executor | None = None,
    workers: int | None = None,
) -> Run:
    """A torch.profiler (Kineto) trace, .json or .json.gz, as a Run with the op timeline and GPU metrics.

    `path` may also be a directory, a glob or a list of traces: the ranks of one job, made one run with a
    lane group per rank on one clock, parsed in parallel through `executor` (any concurrent.futures
    Executor, e.g. a Dask client's `get_executor()`; default a local pool of `workers` processes).

    Saved in the store (default: $WORKBENCH_STORE or ./.fmprofile) unless `save=False`, so
    `workbench show`, `compare` and the dashboard work on it like on a profiled cell. Raises
    `KinetoFormatError` naming the file when it is not a Kineto trace."""
    from workbench.importers.ranks import imported_run

    run = imported_run(path, name, executor, workers)
    table = run.recording.ops
    events = 0 if table is None else len(table)
    imported = run.environment.get("imported_from")
    what = Path(imported).name if isinstance(imported, str) else f"{len(imported or [])} rank traces"
    run.collectors.append(CollectorStatus("kernels", True, f"{events:,} events imported from {what}"))
    findings, _ = find_bottlenecks(run)
    run.metrics["findings"] = [f.to_dict() for f in findings]
    if save:
        from workbench.session import write_artifacts

        target = rundir.save_run(run, runs_dir(Path(store) if store is not None else default_store()))
        for problem in write_artifacts(run, target):
            print(f"workbench: {problem}")
    return run
