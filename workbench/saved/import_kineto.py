"""`wb.load_kineto()` and `workbench import`: a torch.profiler trace recorded anywhere, as a saved run."""

from __future__ import annotations

from pathlib import Path

from workbench.analysis.findings import find_bottlenecks
from workbench.analysis.gpu import gpu_metrics
from workbench.model.events import CollectorStatus
from workbench.model.run import Run
from workbench.store import rundir
from workbench.store.index import default_store, runs_dir


def load_kineto(
    path: str | Path, name: str | None = None, store: str | Path | None = None, save: bool = True
) -> Run:
    """A torch.profiler (Kineto) trace, .json or .json.gz, as a Run with the op timeline and GPU metrics.

    Saved in the store (default: $WORKBENCH_STORE or ./.fmprofile) unless `save=False`, so
    `workbench show`, `compare` and the dashboard work on it like on a profiled cell. Raises
    `KinetoFormatError` naming the file when it is not a Kineto trace."""
    from workbench.importers.kineto import read_kineto, run_from_kineto

    run = run_from_kineto(read_kineto(path), name=name)
    table = run.recording.ops
    events = 0 if table is None else len(table)
    source = f"{events:,} events imported from {Path(path).name}"
    run.collectors.append(CollectorStatus("kernels", True, source))
    gpu = gpu_metrics(run.recording, (0, run.duration_ns))
    if gpu is not None:
        run.metrics["gpu"] = gpu
    findings, _ = find_bottlenecks(run)
    run.metrics["findings"] = [f.to_dict() for f in findings]
    if save:
        from workbench.session import write_artifacts

        target = rundir.save_run(run, runs_dir(Path(store) if store is not None else default_store()))
        for problem in write_artifacts(run, target):
            print(f"workbench: {problem}")
    return run
