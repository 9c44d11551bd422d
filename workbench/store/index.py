"""Where runs live and how a user names one: `.fmprofile/runs/<run-id>/` under the working directory."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from workbench.store.rundir import RUN_FILE, CorruptRunError, read_meta

STORE_ENV = "WORKBENCH_STORE"
DEFAULT_STORE = ".fmprofile"


def default_store() -> Path:
    return Path(os.environ.get(STORE_ENV) or DEFAULT_STORE)


def runs_dir(store: Path | None = None) -> Path:
    return (store or default_store()) / "runs"


def list_runs(store: Path | None = None) -> list[dict[str, Any]]:
    """Metadata of every run, oldest first; unreadable ones appear with a `load_error` saying why."""
    root = runs_dir(store)
    if not root.is_dir():
        return []
    rows = []
    for path in sorted(p for p in root.iterdir() if (p / RUN_FILE).exists()):
        try:
            meta = read_meta(path)
        except CorruptRunError as error:
            meta = {"id": path.name, "load_error": str(error)}
        meta["path"] = str(path)
        rows.append(meta)
    # `created` has one-second resolution; the clock anchor orders runs started within the same second.
    return sorted(rows, key=_listing_order)


def _listing_order(meta: dict[str, Any]) -> tuple[str, float]:
    anchor = meta.get("origin_wall_s")
    return str(meta.get("created", "")), float(anchor) if isinstance(anchor, int | float) else 0.0


def resolve_run(id_or_path: str | os.PathLike[str], store: Path | None = None) -> Path:
    """A run directory from a path, a full id, a unique id prefix, or a run name (the newest with it)."""
    candidate = Path(id_or_path)
    if _exists(candidate / RUN_FILE) or _is_dir(candidate):
        return candidate
    key = str(id_or_path)
    root = runs_dir(store)
    if _is_dir(root / key):
        return root / key
    runs = list_runs(store)
    by_prefix = [r for r in runs if str(r.get("id", "")).startswith(key)]
    if len(by_prefix) == 1:
        return Path(by_prefix[0]["path"])
    if len(by_prefix) > 1:
        raise LookupError(f"run id prefix {key!r} is ambiguous: {', '.join(r['id'] for r in by_prefix)}")
    by_name = [r for r in runs if r.get("name") == key]
    if by_name:
        return Path(by_name[-1]["path"])
    raise LookupError(f"no run {key!r} in {root} (list them with `workbench runs`)")


def _exists(path: Path) -> bool:
    # A run's name is free text: longer than a file name may be (255 bytes), or holding a NUL, it is not a
    # path, and is looked up by name instead of failing the look-up.
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


_RELATIVE_KEY = re.compile(r"-(\d+)")


def resolve_key(key: str, store: Path | None, before: str | None = None) -> Path:
    """A run directory from what a user typed; `-N` is the Nth newest readable top-level run (older than
    `before`, an id, when given: `-1` is then the latest run saved before that one). LookupError when none."""
    match = _RELATIVE_KEY.fullmatch(key.strip())
    if match is None:
        return resolve_run(key, store)
    # Counting back goes over top-level runs: the repetitions and configurations of a --repeat or --sweep
    # run are saved before it, and `-1` from inside one must not be one of its own parts.
    rows = [r for r in list_runs(store) if "load_error" not in r and not r.get("parent")]
    if before is not None:
        ids = [r.get("id") for r in rows]
        rows = rows[: ids.index(before)] if before in ids else rows
    n = int(match.group(1))
    if n < 1 or n > len(rows):
        raise LookupError(f"no run {key!r}: {len(rows)} saved run(s) to count back from")
    return Path(rows[-n]["path"])
