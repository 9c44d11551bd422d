"""What `wb.load_kineto` and `workbench import` accept as traces: a file, a directory, a glob, or a list."""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path

TRACE_SUFFIXES = (".json", ".json.gz", ".pt.trace.json", ".pt.trace.json.gz")

TraceSource = str | Path | Iterable[str | Path]


def trace_files(source: TraceSource) -> list[Path]:
    """The trace files `source` names, in order: a directory's traces and a glob's matches sorted by name
    (so that "file order" is stable); a list as given, each entry expanded the same way."""
    if isinstance(source, str | Path):
        return _expand(source)
    if not isinstance(source, Iterable):
        raise TypeError(f"expected a path, a glob or a list of paths, not {type(source).__name__}")
    files = [f for item in source for f in _expand(item)]
    if not files:
        raise FileNotFoundError("no trace files in the empty list")
    return files


def _expand(item: str | Path) -> list[Path]:
    path = Path(item)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(TRACE_SUFFIXES))
        if not found:
            raise FileNotFoundError(f"{path}: no .json or .json.gz trace files in this directory")
        return found
    if not path.exists() and glob.has_magic(str(item)):
        matches = sorted(Path(m) for m in glob.glob(str(item)) if Path(m).is_file())
        if not matches:
            raise FileNotFoundError(f"{item}: no files match this pattern")
        return matches
    return [path]
