"""The live dashboard in a notebook output, replaced in place by the final static output when the cell ends.

One output slot (a display id) holds, in turn: BokehJS (first live cell of a kernel only: the widget needs
it in the page), the live widget, and the final bundle. A frontend applies each update to the same output,
so the saved notebook holds only the static dashboard, which renders offline; a frontend without widgets
(nbclient, nbconvert) shows the widget's text/plain meanwhile and records only the final bundle.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib.util
import os
import sys
import threading
from typing import Any

from workbench.notebook.status_comm import LiveStatus
from workbench.session import ProfileSession
from workbench.session.live.updater import LiveSource, LiveStats, LiveUpdater

# BokehJS stays in the page once loaded, so it is sent once per kernel (about 2 MB inline, no CDN). Where FM
# Workbench's JupyterLab extension runs, the page has it anyway (after a reload, in a second tab).
_bokehjs_sent = False


# A cell still running after this long gets a live view; a shorter one shows its final dashboard only, and
# does not pay for a live one nobody would watch (building and sending it costs about a third of a second).
LIVE_AFTER_S = float(os.environ.get("WORKBENCH_LIVE_AFTER_S", "1.0"))


class DeferredLiveView:
    """The live view of a started session, opened by a thread after `delay_s` if the cell still runs.

    The thread runs in a copy of the cell's context, so the live output goes to the cell's own output area
    (ipykernel keeps the parent message in a context variable). Its frames are the profiler's machinery:
    they never count as the cell's (`analysis.stacks.trim_stack`)."""

    def __init__(self, session: ProfileSession, delay_s: float = LIVE_AFTER_S) -> None:
        self._cancel = threading.Event()
        self._view: LiveView | None = None
        # The cell's output slot, taken now so the dashboard comes before anything the cell prints or
        # returns (live or not, the final dashboard goes here).
        self.slot = reserve_slot()
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run,
            args=(self._open_later, session, delay_s),
            name="workbench-live-open",
            daemon=True,
        )
        self._thread.start()

    def _open_later(self, session: ProfileSession, delay_s: float) -> None:
        if not self._cancel.wait(delay_s):
            self._view = LiveView.open(session, self.slot)

    def settle(self) -> LiveView | None:
        """At the cell's end: the live view if it was opened (waiting for an opening under way), else None,
        and none will be."""
        self._cancel.set()
        self._thread.join()
        return self._view


def live_supported(shell: Any) -> bool:
    """A kernel with a frontend that may render widgets (not terminal IPython), and the widget package."""
    return (
        getattr(shell, "kernel", None) is not None and importlib.util.find_spec("jupyter_bokeh") is not None
    )


class LiveView:
    def __init__(
        self, handle: Any, widget: Any, updater: LiveUpdater, status: LiveStatus | None = None
    ) -> None:
        self.handle = handle
        self.widget = widget
        self.updater = updater
        self.status = status  # the status bar's comm (fm-workbench-lab), fed by the updater's ticks
        self.stats: LiveStats | None = None

    @classmethod
    def open(cls, session: ProfileSession, slot: Any = None) -> LiveView | None:
        """Show the live view of a started session in `slot` (a display handle; a new output when None);
        None, after one notice, if it cannot be shown."""
        try:
            return cls._open(session, slot)
        except Exception as error:
            print(f"workbench: no live view for this cell ({type(error).__name__}: {error})", file=sys.stderr)
            return None

    @classmethod
    def _open(cls, session: ProfileSession, slot: Any) -> LiveView:
        from workbench.render.live.dashboard import LiveDashboard
        from workbench.render.live.widget import BatchedBokehModel

        run, clock = session.run, session.clock
        if run is None or clock is None:
            raise RuntimeError("the session has not started")
        dashboard = LiveDashboard(run.name)
        widget = BatchedBokehModel(dashboard.layout)
        ignored = frozenset(session.options.ignore_findings)
        source = LiveSource(run.recording, clock, session.main_thread_id, session.anchor_files, ignored)
        status = LiveStatus.open(run.name)
        updater = LiveUpdater(
            source,
            dashboard,
            batch=widget.batch,
            messages=lambda: widget.messages_sent,
            on_snapshot=status.update if status is not None else None,
        )
        handle = _with_bokehjs(slot if slot is not None else reserve_slot())
        try:
            handle.update(widget)
            updater.start()
        except Exception:
            # The final output then comes as a new output: leave this slot as good as empty.
            handle.update({"text/plain": ""}, raw=True)
            widget.close()
            if status is not None:
                status.close()
            raise
        return cls(handle, widget, updater, status)

    def stop(self) -> None:
        """Stop the updater thread (joined); the widget stays up until `replace`. Never raises."""
        try:
            self.stats = self.updater.stop()
        except Exception as error:
            print(f"workbench: the live view did not stop cleanly ({error})", file=sys.stderr)
        if self.status is not None:
            self.status.close()  # after the updater's last tick, which says the cell ended

    def replace(self, bundle: dict[str, str]) -> None:
        """Put the final output in the live view's place and close the widget. Never raises."""
        try:
            self.handle.update(bundle, raw=True)
        except Exception as error:
            print(f"workbench: the live view could not be replaced ({error})", file=sys.stderr)
        # A comm already gone (the kernel shutting down) has nothing left to close.
        with contextlib.suppress(Exception):
            self.widget.close()


def reserve_slot() -> Any:
    """A display handle for the cell's dashboard, an empty output until the live view or the final
    dashboard fills it."""
    from IPython.display import display

    return display({"text/plain": ""}, raw=True, display_id=True)  # type: ignore[no-untyped-call]


def _with_bokehjs(slot: Any) -> Any:
    """`slot`, BokehJS put in it first when the page may lack it (the first live view of a kernel)."""
    global _bokehjs_sent
    if not _bokehjs_sent:
        slot.update(_bokehjs_bundle(), raw=True)
        _bokehjs_sent = True
    return slot


def _bokehjs_bundle() -> dict[str, str]:
    """What `bokeh.io.output_notebook(INLINE, hide_banner=True)` publishes, as a bundle we can display
    under our own display id (so that the live widget and then the final output replace it)."""
    from bokeh.core.templates import AUTOLOAD_NB_JS
    from bokeh.embed.bundle import bundle_for_objs_and_resources
    from bokeh.io.notebook import JS_MIME_TYPE, LOAD_MIME_TYPE
    from bokeh.resources import Resources

    from workbench.render.bokehjs import COMPONENTS

    # The components the live view uses (2 MB; all of Bokeh's, MathJax included, are 4 MB).
    bundle = bundle_for_objs_and_resources(None, Resources(mode="inline", components=COMPONENTS))

    def loader(register_mime: bool) -> str:
        return str(
            AUTOLOAD_NB_JS.render(
                bundle=bundle, elementid=None, force=True, timeout=5000, register_mime=register_mime
            )
        )

    return {
        JS_MIME_TYPE: loader(True),
        LOAD_MIME_TYPE: loader(False),
        "text/plain": "(loading the live dashboard)",
    }
