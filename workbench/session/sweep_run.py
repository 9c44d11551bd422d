"""The sweep run: the parent of a sweep's configuration runs, saved like any run.

It has no collectors of its own. Its recording holds the cell span and one span of kind "configuration"
per configuration run (attrs: the run id and the values), on its own clock; `metrics["sweep"]` holds the
configurations' key metrics and the Pareto front (`analysis.sweep`). Its report.html is the sweep page.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench.analysis.sweep import label, sweep_metrics
from workbench.clock import RunClock
from workbench.model.events import Span
from workbench.model.run import Run
from workbench.options import ProfileOptions
from workbench.session.artifacts import REPORT_FILE, write_artifacts
from workbench.session.environment import capture_environment
from workbench.session.profile_session import new_run_id
from workbench.store import rundir
from workbench.store.index import default_store, runs_dir

CONFIGURATION_KIND = "configuration"


class SweepRun:
    def __init__(self, options: ProfileOptions, cell_source: str) -> None:
        self.options = options
        self.clock = RunClock.start()
        stamp = datetime.now(timezone.utc).astimezone()
        self.run = Run(
            id=new_run_id(),
            name=options.name or f"sweep-{stamp.strftime('%H%M%S')}",
            created=stamp.isoformat(timespec="seconds"),
            duration_ns=0,
            origin_wall_s=self.clock.origin_wall_s,
            cell_source=cell_source,
            environment=capture_environment(),
            options=options.to_dict(),
        )
        self.children: list[tuple[dict[str, Any], Run]] = []
        self._root = Span(1, self.run.name, "cell", 0, None, None, 0, {})
        self.run.recording.add_span(self._root)

    def child_name(self, config: Mapping[str, Any]) -> str:
        return f"{self.run.name}[{label(config)}]"

    def add(self, config: Mapping[str, Any], child: Run, start_ns: int) -> None:
        span_id = len(self.run.recording.spans) + 1
        attrs = {"run_id": child.id, **{f"sweep.{k}": v for k, v in config.items()}}
        end = self.clock.now_ns()
        self.run.recording.add_span(
            Span(span_id, label(config), CONFIGURATION_KIND, start_ns, end, 1, 0, attrs)
        )
        self.children.append((dict(config), child))

    def finish(self, error: BaseException | None) -> tuple[Run, list[str]]:
        """Fill in the metrics and save; returns the run and problems met while saving."""
        run = self.run
        end = self.clock.now_ns()
        self._root.end_ns = run.duration_ns = end
        if error is not None:
            run.error = f"{type(error).__name__}: {error}"
        grid = self.options.sweep or {}
        run.metrics = {
            "wall_s": end / 1e9,
            "cell_start_ms": 0.0,
            "cell_end_ms": end / 1e6,
            "sweep": sweep_metrics(grid, self.children),
        }
        return run, self._save(run)

    def _save(self, run: Run) -> list[str]:
        store = self.options.store or default_store()
        try:
            path = rundir.save_run(run, runs_dir(Path(store)))
        except OSError as error:
            return [f"the sweep run could not be saved under {store}: {error}"]
        return write_artifacts(run, path, (REPORT_FILE,))
