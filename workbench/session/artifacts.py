"""The files beside run.json: trace.json (Perfetto), cpu.speedscope.json and report.html.

They are derived from run.json and the events file, so they are written when first asked for (the
Runs sidebar's Report, `workbench export`, `ensure_artifact`), never while the user waits for a cell
to end (report.html alone took ~360 ms of a short cell's end). A note removes the ones that show notes
(`invalidate`), to be written again on next use. A kernel that dies before they are written loses
nothing: what they are made from is already saved. A file that cannot be written is a problem reported
to the user, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

from workbench.model.run import Run
from workbench.store import rundir

TRACE_FILE = "trace.json"
SPEEDSCOPE_FILE = "cpu.speedscope.json"
REPORT_FILE = "report.html"
ARTIFACTS = (TRACE_FILE, SPEEDSCOPE_FILE, REPORT_FILE)
# The files that show the run's notes: a note makes them stale.
SHOWS_NOTES = (REPORT_FILE, TRACE_FILE)


def write_artifacts(run: Run, path: Path, names: Collection[str] = ARTIFACTS) -> list[str]:
    """Write the named files (default: all three) beside the run's run.json; returns problems, if any."""
    problems = []
    for filename in names:
        try:
            _WRITERS[filename](run, path / filename)
        except Exception as error:
            problems.append(f"could not write {filename}: {type(error).__name__}: {error}")
    return problems


def ensure_artifact(path: Path, name: str, run: Run | None = None) -> Path:
    """The run directory's file `name`, written first if it is not there yet (from `run`, else loaded).
    OSError naming the problem when it cannot be written; a corrupt run raises as `load_run` does."""
    target = path / name
    if target.is_file():
        return target
    if run is None:
        from workbench.store import load_run

        run = load_run(path)
    problems = write_artifacts(run, path, (name,))
    if not target.is_file():
        raise OSError("; ".join(problems) or f"could not write {target}")
    return target


def invalidate(path: Path) -> list[str]:
    """Remove the files a new note makes stale; they are written again, with it, when next asked for."""
    problems = []
    for name in SHOWS_NOTES:
        try:
            (path / name).unlink(missing_ok=True)
        except OSError as error:
            problems.append(f"{name} is stale and could not be removed ({error})")
    return problems


def _write_trace(run: Run, path: Path) -> None:
    from workbench.export import write_chrome_trace

    write_chrome_trace(run, path)


def _write_speedscope(run: Run, path: Path) -> None:
    from workbench.export import write_speedscope

    write_speedscope(run, path)


def _write_report(run: Run, path: Path) -> None:
    # A sweep's parent run has no recording of its own to draw: its page is the sweep's table and front.
    if isinstance(run.metrics.get("sweep"), dict):
        from workbench.render.sweep_report import sweep_html

        page = sweep_html(run)
    else:
        from workbench.render import report_html

        page = report_html(run)
    rundir.write_atomic(path, page.encode())


_WRITERS: dict[str, Callable[[Run, Path], None]] = {
    TRACE_FILE: _write_trace,
    SPEEDSCOPE_FILE: _write_speedscope,
    REPORT_FILE: _write_report,
}
