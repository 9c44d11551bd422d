"""`wb.compare(a, b)`: two runs, given as `Run`s or keys, compared (A is the baseline).

A key is what `wb.load_run` takes (a run directory, an id, a unique id prefix, a name: the newest run with
it), or `-1`, `-2`, ... for the latest, second-latest, ... saved run.
"""

from __future__ import annotations

import os
from pathlib import Path

from workbench.analysis.diff import RunDiff
from workbench.analysis.diff import compare as compare_runs
from workbench.model.run import Run
from workbench.store import load_run, resolve_key

RunKey = Run | str | int | os.PathLike[str]


def compare(a: RunKey, b: RunKey, store: str | Path | None = None) -> RunDiff:
    """The `RunDiff` of run `b` against run `a`: metric, function, span and kernel deltas and a diff tree."""
    root = None if store is None else Path(store)
    return compare_runs(load_compare_run(a, root), load_compare_run(b, root))


def load_compare_run(key: RunKey, store: Path | None = None) -> Run:
    """A `Run` as is, or loaded from a key; LookupError (saying which key) when none matches."""
    if isinstance(key, Run):
        return key
    return load_run(resolve_key(str(key) if isinstance(key, int) else os.fspath(key), store))
