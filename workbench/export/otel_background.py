"""`%%fmprofile --otlp URL`: the OTLP export of a saved run, off the cell's critical path.

The export runs on a daemon thread, so the cell's output never waits for the backend; it is bounded by
the export's timeout. A failure is kept as a one-line notice for the next display (`take_notices`),
never raised into a cell. At interpreter exit, exports still running get a bounded wait, so a script's
last run is not cut off.
"""

from __future__ import annotations

import atexit
import sys
import threading
import time

from workbench.export.otlp import DEFAULT_TIMEOUT_S, OtlpExportError, export_run
from workbench.model.run import Run

_lock = threading.Lock()
_notices: list[str] = []
_running: set[threading.Thread] = set()
_atexit_registered = False


def export_in_background(
    run: Run, endpoint: str | None, timeout_s: float = DEFAULT_TIMEOUT_S
) -> threading.Thread:
    """Start exporting `run` to `endpoint` (None: the OTLP environment variables) and return at once."""
    thread = threading.Thread(
        target=_export, args=(run, endpoint, timeout_s), name=f"workbench-otlp-{run.id}", daemon=True
    )
    global _atexit_registered
    with _lock:
        _running.add(thread)
        if not _atexit_registered:
            atexit.register(_at_exit, timeout_s)
            _atexit_registered = True
    thread.start()
    return thread


def _export(run: Run, endpoint: str | None, timeout_s: float) -> None:
    try:
        export_run(run, endpoint, timeout_s)
    except OtlpExportError as error:
        _notice(f"otlp: run {run.id} was not exported: {error}")
    except Exception as error:  # a bug here must not surface in whatever cell runs next
        _notice(f"otlp: run {run.id} was not exported ({type(error).__name__}: {error})")
    finally:
        with _lock:
            _running.discard(threading.current_thread())


def _notice(text: str) -> None:
    with _lock:
        _notices.append(" ".join(text.split()))


def take_notices() -> list[str]:
    """The notices of exports that failed since the last call (each is returned once)."""
    with _lock:
        taken = list(_notices)
        _notices.clear()
    return taken


def _at_exit(timeout_s: float) -> None:
    """A script's exports get their bounded wait, and their failures are said before the process ends."""
    wait_for_exports(timeout_s)
    for notice in take_notices():
        print(f"workbench: {notice}", file=sys.stderr)


def wait_for_exports(timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
    """Wait up to `timeout_s` in all for the exports still running."""
    with _lock:
        running = list(_running)
    deadline = time.monotonic() + timeout_s
    for thread in running:
        thread.join(max(0.0, deadline - time.monotonic()))
