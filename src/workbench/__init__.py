"""FM Workbench: profile foundation-model software in Jupyter.

In a notebook: `%load_ext workbench`, then `%%fmprofile` on top of a cell. From Python:

    import workbench as wb
    with wb.profile(name="nightly") as run:
        pipeline()
    run.metrics["tokens"]["ttft_ms"]["p90"]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from workbench.api import llm_request, span
from workbench.compare_runs import compare
from workbench.history import history
from workbench.import_trace import load_kineto
from workbench.model.run import Run
from workbench.notes import note
from workbench.profile import profile
from workbench.session import last_run
from workbench.store import CorruptRunError, list_runs, resolve_run
from workbench.store import load_run as _load_run_dir

__version__ = "0.1.0"
__all__ = [
    "CorruptRunError",
    "Run",
    "compare",
    "history",
    "last_run",
    "llm_request",
    "load_kineto",
    "load_run",
    "note",
    "profile",
    "runs",
    "show",
    "span",
]

RUN_COLUMNS = [
    "id", "name", "created", "wall_s", "output_tokens", "output_tokens_per_s", "ttft_ms_p50",
    "ttft_ms_p90", "tpot_ms_p50", "cpu_samples", "error", "path",
]  # fmt: skip


def load_run(id_or_path: str | Path, store: str | Path | None = None) -> Run:
    """A saved run, by directory, id, unique id prefix, or name (the newest with that name)."""
    return _load_run_dir(resolve_run(id_or_path, None if store is None else Path(store)))


def show(run: Run | str | Path, store: str | Path | None = None) -> None:
    """Display a run's dashboard in the notebook: a `Run` (e.g. from `load_kineto`), or a saved run's id,
    id prefix, name or directory. Outside a notebook, print its summary."""
    from IPython.display import display

    from workbench.render import notebook_bundle, summary_text
    from workbench.shown_runs import remember

    if not isinstance(run, Run):
        run = load_run(run, store)
    if _in_notebook():
        handle = display(notebook_bundle(run), raw=True, display_id=True)  # type: ignore[no-untyped-call]
        remember(run.id, handle)
    else:
        print(summary_text(run))


def _in_notebook() -> bool:
    from IPython import get_ipython

    shell = get_ipython()  # type: ignore[no-untyped-call]
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def runs(store: str | Path | None = None) -> pd.DataFrame:
    """The saved runs, one row each, oldest first."""
    rows = [_run_row(meta) for meta in list_runs(None if store is None else Path(store))]
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def _run_row(meta: dict[str, Any]) -> dict[str, Any]:
    metrics = meta.get("metrics") or {}
    tokens = metrics.get("tokens") or {}
    return {
        "id": meta.get("id"),
        "name": meta.get("name"),
        "created": meta.get("created"),
        "wall_s": metrics.get("wall_s"),
        "output_tokens": tokens.get("output_tokens"),
        "output_tokens_per_s": tokens.get("output_tokens_per_s"),
        "ttft_ms_p50": (tokens.get("ttft_ms") or {}).get("p50"),
        "ttft_ms_p90": (tokens.get("ttft_ms") or {}).get("p90"),
        "tpot_ms_p50": (tokens.get("tpot_ms") or {}).get("p50"),
        "cpu_samples": (metrics.get("cpu") or {}).get("samples"),
        "error": meta.get("load_error") or meta.get("error"),
        "path": meta.get("path"),
    }


def load_ipython_extension(shell: Any) -> None:
    from workbench.magics import load_ipython_extension as load

    load(shell)


def unload_ipython_extension(shell: Any) -> None:
    from workbench.magics import unload_ipython_extension as unload

    unload(shell)
