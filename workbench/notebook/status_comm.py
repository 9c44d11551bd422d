"""The live status of a profiled cell for the JupyterLab / Notebook 7 status bar, over a Jupyter comm.

When a cell's live view starts, the kernel opens a comm with target `fmprofile_status` (the
`fm-workbench-lab` extension registers it on every kernel), sends one small JSON message per live tick from
the updater thread (ipykernel sends comm messages from any thread, with the cell's request as parent, so
they reach the page while the cell's own thread is busy) and closes it when the cell ends.

A frontend without the target (no extension installed) closes the comm itself and logs that in the browser
console; nothing shows in the notebook. A failure here never reaches the cell: the status stops after at
most one notice.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable
from typing import Any

from workbench.render.live.snapshot import LiveSnapshot

TARGET = "fmprofile_status"
VERSION = 1


def status_message(snapshot: LiveSnapshot, done: bool = False) -> dict[str, Any]:
    """The counters of one tick, as the status bar shows them (numbers rounded: a few dozen bytes)."""
    return {
        "elapsed_s": round(snapshot.now_s, 3),
        "samples": snapshot.cpu_samples,
        "output_tokens": snapshot.total_tokens,
        "tokens_per_s": round(snapshot.tokens_per_s, 2),
        "requests": snapshot.requests,
        "ttft_p50_ms": None if snapshot.ttft_p50_ms is None else round(snapshot.ttft_p50_ms, 1),
        "status": snapshot.status,
        "done": done,
    }


def current_cell_id() -> str | None:
    """The id of the cell being executed, from the execute request's metadata (JupyterLab, Notebook 7 and
    VS Code send `cellId`); None outside a kernel or when the frontend did not say."""
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        parent = kernel.get_parent() if kernel is not None else {}
        cell_id = (parent.get("metadata") or {}).get("cellId")
    except Exception:
        return None
    return cell_id if isinstance(cell_id, str) else None


class LiveStatus:
    """One profiled cell's status comm. Every method swallows its errors: the first one ends the status
    (one notice), later calls do nothing."""

    def __init__(self, comm: Any, notify: Callable[[str], None] | None = None) -> None:
        self.comm = comm
        self.notify = notify or _print_notice
        self.failed = False
        self.closed = False
        self.sent = 0
        self._lock = threading.Lock()  # the updater thread sends, the cell's thread closes

    @classmethod
    def open(
        cls,
        name: str,
        cell_id: str | None = None,
        create: Callable[..., Any] | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> LiveStatus | None:
        """Open the comm (from the cell's thread, so that the open carries the cell's request as parent);
        None, after one notice, when it cannot be opened."""
        data = {
            "version": VERSION,
            "name": name,
            "cell_id": cell_id if cell_id is not None else current_cell_id(),
        }
        try:
            if create is None:
                from comm import create_comm

                create = create_comm
            comm = create(target_name=TARGET, data=data)
        except Exception as error:
            (notify or _print_notice)(f"no live status in the status bar ({type(error).__name__}: {error})")
            return None
        status = cls(comm, notify)
        # The frontend closes a comm whose target it lacks: then stop sending (seen once the cell ends).
        with contextlib.suppress(Exception):
            comm.on_close(lambda _msg: setattr(status, "closed", True))
        return status

    def update(self, snapshot: LiveSnapshot, done: bool = False) -> None:
        """Send one tick's counters. Never raises."""
        self._call(lambda: self.comm.send(status_message(snapshot, done)), count=True)

    def close(self) -> None:
        """Close the comm (the status bar's indicator goes away). Never raises; only the first call acts."""
        self._call(self.comm.close)
        self.closed = True

    def _call(self, action: Callable[[], Any], count: bool = False) -> None:
        with self._lock:
            if self.failed or self.closed:
                return
            try:
                action()
            except Exception as error:
                self.failed = True
                self.notify(f"the live status stopped ({type(error).__name__}: {error})")
                return
            if count:
                self.sent += 1


def _print_notice(text: str) -> None:
    print(f"workbench: {text}", file=sys.stderr)
