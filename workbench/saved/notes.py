"""Notes on runs, from a notebook or a script: `wb.note(...)`, and what `%fmprofile_note` calls.

A note goes into the run's run.json; the run's report.html is rewritten to show it, and the dashboards
this kernel showed of that run are redrawn in place, so the notebook saved afterwards carries the note.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workbench.model.events import Annotation
from workbench.model.run import Run
from workbench.store.index import resolve_key
from workbench.store.notes import NoteError, append_note, new_note

NS_PER_MS = 1_000_000
# Marks the dashboard the kernel sends back for the lab extension to put in place of the old one.
REDRAW_KEY = "fmprofile_redraw"
# How to redraw the dashboards a kernel has shown, registered by the notebook adapter when it shows one
# (notebook/shown_runs.py); a note from a script or the CLI redraws nothing. Kept here so that this module
# never imports the notebook adapter above it.
_redrawers: list[Callable[[Run], int]] = []


def on_note_added(redraw: Callable[[Run], int]) -> None:
    """Call `redraw(run)` after every note; it returns how many dashboards it updated."""
    if redraw not in _redrawers:
        _redrawers.append(redraw)


@dataclass(frozen=True)
class NoteAdded:
    run: Run  # as loaded, the note included
    note: Annotation
    redrawn: int
    problems: tuple[str, ...] = ()

    def message(self) -> str:
        where = _where(self.note)
        shown = f"; {self.redrawn} dashboard(s) redrawn" if self.redrawn else ""
        extra = "".join(f"\n  {p}" for p in self.problems)
        return f"note added to run {self.run.name!r} ({self.run.id}) {where}{shown}{extra}"


def note(
    text: str,
    run: str = "-1",
    *,
    at_ms: float | None = None,
    range_ms: tuple[float, float] | None = None,
    store: str | Path | None = None,
) -> NoteAdded:
    """Attach a note to a saved run: `run` is an id, id prefix, name, directory, or -1 (the latest, the
    default), -2, ...; `at_ms` pins it to one time and `range_ms` to a range, in ms on the dashboard's axis
    (ms since the run started). NoteError when the note does not fit; LookupError when there is no run."""
    from workbench.session.artifacts import invalidate
    from workbench.store import load_run

    if at_ms is not None and range_ms is not None:
        raise NoteError("give a time or a range, not both")
    path = resolve_key(run, None if store is None else Path(store))
    start_ns, end_ns = _times_ns(at_ms, range_ms)
    loaded = load_run(path)
    _check_fits(start_ns, end_ns, loaded.last_event_ns, loaded.name)
    added = new_note(text, start_ns, end_ns)
    append_note(path, added)
    loaded.annotations.append(added)
    redrawn = sum(redraw(loaded) for redraw in _redrawers)
    return NoteAdded(loaded, added, redrawn, tuple(invalidate(path)))


def _times_ns(at_ms: float | None, range_ms: tuple[float, float] | None) -> tuple[int | None, int | None]:
    if at_ms is not None:
        return round(at_ms * NS_PER_MS), None
    if range_ms is not None:
        start, end = sorted(range_ms)
        return round(start * NS_PER_MS), round(end * NS_PER_MS)
    return None, None


def _check_fits(start_ns: int | None, end_ns: int | None, run_end_ns: int, name: str) -> None:
    last = end_ns if end_ns is not None else start_ns
    if last is not None and last > run_end_ns:
        raise NoteError(
            f"{last / NS_PER_MS:,.1f} ms is after the end of run {name!r} ({run_end_ns / NS_PER_MS:,.1f} ms)"
        )


def _where(note: Annotation) -> str:
    if note.t_ns is None:
        return "on the whole run"
    if note.end_ns is None:
        return f"at {note.t_ns / NS_PER_MS:,.1f} ms"
    return f"on {note.t_ns / NS_PER_MS:,.1f}–{note.end_ns / NS_PER_MS:,.1f} ms"


def note_from_dashboard(encoded: str) -> None:
    """What the JupyterLab extension runs in the kernel when the dashboard's note field sends a note:
    `encoded` is base64 of JSON {run, path, text, start_ms, end_ms}. Prints what was done; raises
    NoteError or LookupError (shown to the user in the field) when the note cannot be added."""
    request = json.loads(base64.b64decode(encoded).decode())
    if not isinstance(request, dict):
        raise NoteError("the dashboard sent no note")
    key = str(request.get("run") or "")
    path = request.get("path")
    # The run's directory when it is still there (a run saved with --store elsewhere), else its id.
    if isinstance(path, str) and path and Path(path, "run.json").is_file() and Path(path).name == key:
        key = path
    start, end = request.get("start_ms"), request.get("end_ms")
    numbers = isinstance(start, int | float) and isinstance(end, int | float)
    span = (float(start), float(end)) if numbers else None  # type: ignore[arg-type]
    added = note(str(request.get("text") or ""), key or "-1", range_ms=span)
    print(added.message())
    if not added.redrawn:
        # Not shown by this kernel (a notebook reopened, a new kernel): the frontend gets the redrawn
        # dashboard and puts it in place of the one the note came from.
        from IPython.display import display

        from workbench.render import notebook_bundle

        # The run as `note` loaded it: its dashboard was just drawn for report.html, and is reused.
        metadata = {REDRAW_KEY: {"run": added.run.id}}
        # Without BokehJS: the frontend moves it over when the output it replaces carried it.
        display(notebook_bundle(added.run, carry_bokehjs=False), raw=True, metadata=metadata)  # type: ignore[no-untyped-call]
