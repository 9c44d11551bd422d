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

from workbench.api import llm_request, span
from workbench.model.run import Run
from workbench.profile import profile
from workbench.saved.compare import compare
from workbench.saved.import_kineto import load_kineto
from workbench.saved.notes import note
from workbench.session import last_run
from workbench.store import CorruptRunError, resolve_run
from workbench.store import load_run as _load_run_dir
from workbench.store.history import history
from workbench.store.history import runs_table as runs

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


def load_run(id_or_path: str | Path, store: str | Path | None = None) -> Run:
    """A saved run, by directory, id, unique id prefix, or name (the newest with that name)."""
    return _load_run_dir(resolve_run(id_or_path, None if store is None else Path(store)))


def show(run: Run | str | Path, store: str | Path | None = None) -> None:
    """Display a run's dashboard in the notebook: a `Run` (e.g. from `load_kineto`), or a saved run's id,
    id prefix, name or directory. Outside a notebook, print its summary."""
    from IPython.display import display

    from workbench.notebook.bokehjs_carrier import carry_bokehjs
    from workbench.notebook.shown_runs import remember
    from workbench.render import notebook_bundle, summary_text

    if not isinstance(run, Run):
        run = load_run(run, store)
    if _in_notebook():
        carried = carry_bokehjs()
        bundle = notebook_bundle(run, carry_bokehjs=carried)
        remember(run.id, display(bundle, raw=True, display_id=True), carried)  # type: ignore[no-untyped-call]
    else:
        print(summary_text(run))


def _in_notebook() -> bool:
    from IPython import get_ipython

    shell = get_ipython()  # type: ignore[no-untyped-call]
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where the prebuilt JupyterLab extension lives in this package (`jupyter labextension develop`)."""
    return [{"src": "labextension", "dest": "fm-workbench-lab"}]


def load_ipython_extension(shell: Any) -> None:
    from workbench.notebook.magics import load_ipython_extension as load

    load(shell)


def unload_ipython_extension(shell: Any) -> None:
    from workbench.notebook.magics import unload_ipython_extension as unload

    unload(shell)
