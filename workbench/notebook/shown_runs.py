"""The dashboards this kernel has shown, by run id, so a note added later redraws them in place.

A dashboard is displayed under a display id (JupyterLab and Notebook 7 update an output by its id from any
later execution, a cell's or the extension's); the redrawn output is what the saved notebook keeps.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from typing import Any

from workbench.model.run import Run
from workbench.saved.notes import on_note_added

# Runs of a long session: the handles are small, but the map must not grow without end.
MAX_REMEMBERED = 200

# Each handle, and whether its output carries BokehJS (`notebook.bokehjs_carrier`): a redraw keeps that.
_handles: OrderedDict[str, list[tuple[Any, bool]]] = OrderedDict()


def remember(run_id: str, handle: Any, carries_bokehjs: bool = False) -> None:
    """`handle` (an IPython DisplayHandle) shows the dashboard of run `run_id`."""
    if handle is None:
        return
    on_note_added(redraw)
    handles = _handles.setdefault(run_id, [])
    handles.append((handle, carries_bokehjs))
    _handles.move_to_end(run_id)
    while len(_handles) > MAX_REMEMBERED:
        _handles.popitem(last=False)


def redraw(run: Run) -> int:
    """Show `run`'s dashboard again wherever this kernel showed it; returns how many outputs were updated."""
    handles = _handles.get(run.id)
    if not handles:
        return 0
    from workbench.render import notebook_bundle

    bundles: dict[bool, dict[str, str]] = {}
    updated = 0
    for handle, carries in handles:
        try:
            if carries not in bundles:
                bundles[carries] = notebook_bundle(run, carry_bokehjs=carries)
            handle.update(bundles[carries], raw=True)
            updated += 1
        except Exception as error:  # a closed frontend: the note is saved all the same
            print(f"workbench: could not redraw the dashboard of {run.id} ({error})", file=sys.stderr)
    return updated


def forget_all() -> None:
    _handles.clear()
