"""A profiling session: the collectors and hooks started and stopped around the profiled code, the live
updater that feeds the dashboard while it runs, and the save that turns the recording into a run directory.

Everything the adapters (magic, CLI, `wb.profile`, pytest plugin) need is importable from here.
"""

from workbench.session.artifacts import (
    REPORT_FILE,
    SPEEDSCOPE_FILE,
    TRACE_FILE,
    ensure_artifact,
    invalidate,
    write_artifacts,
)
from workbench.session.profile_session import ProfileSession, last_run, new_run_id

__all__ = [
    "REPORT_FILE",
    "SPEEDSCOPE_FILE",
    "TRACE_FILE",
    "ProfileSession",
    "ensure_artifact",
    "invalidate",
    "last_run",
    "new_run_id",
    "write_artifacts",
]
