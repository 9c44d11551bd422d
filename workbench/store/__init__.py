"""Run directories on disk and the index of saved runs."""

from workbench.store.index import default_store, list_runs, resolve_key, resolve_run
from workbench.store.rundir import CorruptRunError, load_run, save_run

__all__ = [
    "CorruptRunError",
    "default_store",
    "list_runs",
    "load_run",
    "resolve_key",
    "resolve_run",
    "save_run",
]
