"""Stack transforms: cut the Jupyter kernel, asyncio and profiler plumbing off sampled stacks.

After trimming, the cell's own code is the root of every stack that ran it. A stack with no user code left
(a kernel thread waiting in a poller, the event loop idle between awaits) trims to nothing: it is idle.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from workbench.model.events import Frame

# Source files of the machinery around a cell. Matched as substrings of the frame's file path.
_INFRASTRUCTURE_PATHS = (
    "/ipykernel/",
    "/ipykernel_launcher.py",
    "/IPython/",
    "/tornado/",
    "/asyncio/",
    "/zmq/",
    "/traitlets/",
    "/jupyter_client/",
    "/jupyter_core/",
    "/comm/",
    "/runpy.py",
    "<frozen runpy>",
    "/threading.py",
    "/selectors.py",
    "/concurrent/futures/thread.py",
    "/nest_asyncio",
)
# The profiler's own package, wherever it is installed (a user's folder named "workbench" is not it).
_WORKBENCH_DIR = str(Path(__file__).resolve().parents[1]) + os.sep
# Its instrumentation: frames that wrap the user's own calls (hooks around a client library, spans) or
# serve them (the synthetic LLM server a demo runs in a thread).
_INSTRUMENTATION = tuple(
    _WORKBENCH_DIR + part for part in (f"instrument{os.sep}", "api.py", "active.py", f"serve{os.sep}")
)
# ipykernel compiles each cell to /tmp/ipykernel_<pid>/<hash>.py; plain IPython uses <ipython-input-...>.
_CELL_FILE = re.compile(r"ipykernel_\d+/\d+\.py$|^<ipython-input-\d+-")


# Where a background thread parks while it has nothing to do.
_WAIT_FILES = ("/threading.py", "/queue.py", "/selectors.py", "/concurrent/futures/_base.py", "/socket.py")


def is_parked(frames: Sequence[Frame]) -> bool:
    """A stack whose innermost frame is a stdlib wait (Condition.wait, Queue.get, select, ...)."""
    return bool(frames) and any(marker in frames[-1].file for marker in _WAIT_FILES)


def is_cell_file(path: str) -> bool:
    return _CELL_FILE.search(path) is not None


def is_profiler_frame(frame: Frame) -> bool:
    return frame.file.startswith(_WORKBENCH_DIR)


def is_infrastructure(frame: Frame) -> bool:
    return is_profiler_frame(frame) or any(marker in frame.file for marker in _INFRASTRUCTURE_PATHS)


def is_profiler_machinery(frame: Frame) -> bool:
    """The profiler's own work (session, collectors, journal, live view, analysis, store), as opposed to
    its instrumentation (hooks, spans), which runs inside the user's calls and returns to them."""
    return is_profiler_frame(frame) and not frame.file.startswith(_INSTRUMENTATION)


def trim_stack(frames: Sequence[Frame], anchor_files: frozenset[str] = frozenset()) -> list[Frame]:
    """`frames` root first. Returns the user's part of the stack, root first; empty when it has none.

    The root becomes the outermost frame of a notebook cell (or of a file in `anchor_files`); without
    one, the leading plumbing frames are dropped. A stack in the profiler's own machinery (one of its
    threads, its start and stop on the cell's thread, with whatever they call: json, gzip, Bokeh, lazy
    imports) trims to nothing: that time is not the user's. The instrumentation's frames are removed
    everywhere, and what it calls (the user's library) stays.
    """
    anchors = [i for i, frame in enumerate(frames) if is_cell_file(frame.file) or frame.file in anchor_files]
    if anchors:
        start, innermost = anchors[0], anchors[-1]
    else:
        start = 0
        while start < len(frames) and is_infrastructure(frames[start]):
            start += 1
        innermost = 0
    # Machinery may run the user's code again (--repeat runs the cell's body from cell_body.py): only what
    # it does below the user's innermost code is its own.
    if any(is_profiler_machinery(frame) for frame in frames[innermost:]):
        return []
    return [frame for frame in frames[start:] if not is_profiler_frame(frame)]
