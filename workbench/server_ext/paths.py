"""Which store, run directory and file a request may touch: only ones whose fully resolved path stays inside
the server's root and the store.

Every name arrives already percent-decoded by tornado, so `%2e%2e%2f` is checked as `../`. The checks are on
the names (no `..`, no absolute path, no separators in a run id) and again on the fully resolved paths of the
folder, the store, the store's `runs/`, the run directory and every file in it, which catches a symbolic
link anywhere on the way (`runs/` linked to another folder, a `report.html` linked to a secret file).
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from workbench.store.index import DEFAULT_STORE, STORE_ENV
from workbench.store.rundir import RUN_FILE

# What `new_run_id()` makes (20261121-132307-a43ecf), and any other plain file name without separators.
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


class PathRefused(Exception):
    """A path or run id that leads outside the store, or is not a well-formed name (HTTP 403)."""


class RunNotFound(LookupError):
    """No run with that id in the store (HTTP 404)."""


def store_dir(root: Path, directory: str) -> Path:
    """The store of `directory` (relative to `root`, as JupyterLab names a notebook's folder)."""
    root_real = root.resolve()
    folder = _inside(root_real, _relative(directory), "directory")
    store = _inside(root_real, folder / _store_name(), "store")
    return store


def runs_folder(store: Path) -> Path:
    """`<store>/runs`, refused when it resolves outside the store (a link to another folder)."""
    runs = store / "runs"
    confined(runs, store, "the store's runs folder", "store")
    return runs


def run_dir(store: Path, run_id: str) -> Path:
    """The directory of run `run_id` in `store`; refused unless it is a real child of `<store>/runs` whose
    files all resolve inside it."""
    if not _RUN_ID.fullmatch(run_id) or ".." in run_id:
        raise PathRefused(f"not a run id: {run_id!r}")
    runs = runs_folder(store)
    path = runs / run_id
    if not path.is_symlink() and not (path / RUN_FILE).is_file():
        raise RunNotFound(f"no run {run_id!r} in this folder's store")
    check_run_dir(runs, path)
    return path


def check_run_dir(runs: Path, path: Path) -> None:
    """`path` is a real directory in `runs` (not a link) and every file in it resolves inside it: a link out
    (report.html to a secret file, run.json to another run) refuses the whole run, so no handler lists,
    reads, serves or rewrites through it."""
    if path.is_symlink():
        raise PathRefused(
            f"run {path.name!r} is a symbolic link; only run directories in the store are served"
        )
    confined(path, runs, f"run {path.name!r}", "store")
    for entry in path.iterdir():
        confined(entry, path, f"{path.name}/{entry.name}", "run directory")


def confined(path: Path, base: Path, what: str, where: str) -> Path:
    """`path` fully resolved; PathRefused unless it is `base` or inside it (both resolved)."""
    resolved, base_real = path.resolve(), base.resolve()
    if resolved != base_real and not resolved.is_relative_to(base_real):
        raise PathRefused(f"{what} resolves outside the {where}")
    return resolved


def relative_to_root(root: Path, path: Path) -> str:
    """A path as the client names it (relative to the server root, POSIX separators)."""
    return path.resolve().relative_to(root.resolve()).as_posix()


def _relative(directory: str) -> PurePosixPath:
    if "\x00" in directory or "\\" in directory:
        raise PathRefused(f"not a folder path: {directory!r}")
    path = PurePosixPath(directory)
    if path.is_absolute() or re.match(r"[A-Za-z]:", directory):
        raise PathRefused(f"absolute paths are refused; name a folder relative to the root: {directory!r}")
    if ".." in path.parts:
        raise PathRefused(f"'..' is refused in a folder path: {directory!r}")
    return path


def _inside(root_real: Path, relative: PurePosixPath | Path, what: str) -> Path:
    # resolve() follows symlinks: a folder that is a link to /etc resolves outside and is refused here.
    resolved = (root_real / relative).resolve()
    if resolved != root_real and not resolved.is_relative_to(root_real):
        raise PathRefused(f"the {what} resolves outside the server root")
    return resolved


def _store_name() -> PurePosixPath:
    # A relative WORKBENCH_STORE names the store folder the kernels write beside each notebook.
    configured = os.environ.get(STORE_ENV) or DEFAULT_STORE
    return PurePosixPath(configured) if not Path(configured).is_absolute() else PurePosixPath(DEFAULT_STORE)
