"""The files beside run.json: trace.json (Perfetto), cpu.speedscope.json and report.html.

Written when a run is saved (a long run's exports on first use instead), and again when a note changes
what they show. A file that cannot be written is a problem reported to the user, never an exception.
"""

from __future__ import annotations

from pathlib import Path

from workbench.model.run import Run
from workbench.store import rundir

TRACE_FILE = "trace.json"
SPEEDSCOPE_FILE = "cpu.speedscope.json"
REPORT_FILE = "report.html"
# A long cell's trace.json (every CPU sample as nested slices) and speedscope file take a minute and a GB
# or more to write: beyond this many samples (about 17 minutes at the default 100 Hz) they are written on
# first export (`workbench export`, the server extension) instead of when the cell ends.
EAGER_EXPORT_MAX_SAMPLES = 100_000


def exports_now(run: Run) -> bool:
    """Whether trace.json and cpu.speedscope.json are written when the run is saved, not on first export."""
    return len(run.recording.samples) <= EAGER_EXPORT_MAX_SAMPLES


def write_artifacts(run: Run, path: Path, exports: bool | None = None) -> list[str]:
    """report.html beside run.json, and trace.json and cpu.speedscope.json unless `exports` is False (by
    default: unless the run is long, see `exports_now`); returns problems, if any."""
    problems = []
    writers = [(REPORT_FILE, _write_report)]
    if exports if exports is not None else exports_now(run):
        writers = [(TRACE_FILE, _write_trace), (SPEEDSCOPE_FILE, _write_speedscope), *writers]
    for filename, write in writers:
        try:
            write(run, path / filename)
        except Exception as error:
            problems.append(f"could not write {filename}: {type(error).__name__}: {error}")
    return problems


def _write_trace(run: Run, path: Path) -> None:
    from workbench.export import write_chrome_trace

    write_chrome_trace(run, path)


def _write_speedscope(run: Run, path: Path) -> None:
    from workbench.export import write_speedscope

    write_speedscope(run, path)


def _write_report(run: Run, path: Path) -> None:
    from workbench.render import report_html

    rundir.write_atomic(path, report_html(run).encode())
