"""Findings for a finished run: the rules run once the metrics are in, against the baseline if given."""

from __future__ import annotations

from pathlib import Path

from workbench.model.run import Run
from workbench.options import ProfileOptions


def add_findings(run: Run, options: ProfileOptions) -> list[str]:
    """Store the run's findings in `run.metrics["findings"]`; returns notices for what went wrong."""
    from workbench.analysis.findings import find_bottlenecks

    notices: list[str] = []
    baseline = None
    if options.baseline is not None:
        baseline, problem = _baseline(run, options.baseline, options.store)
        if problem:
            notices.append(problem)
    findings, problems = find_bottlenecks(run, baseline, options.ignore_findings)
    run.metrics["findings"] = [f.to_dict() for f in findings]
    return notices + problems


def _baseline(run: Run, key: str, store: Path | None) -> tuple[Run | None, str | None]:
    from workbench.store import load_run, resolve_key

    try:
        return load_run(resolve_key(key, store, before=run.id)), None
    except Exception as error:  # a missing baseline costs only the comparison finding
        return None, f"findings: baseline {key!r} not loaded ({error})"
