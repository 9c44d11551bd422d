"""Which host op launched each piece of GPU work, from Kineto's correlation ids.

The chain in a trace is: a CPU op (aten::addmm) encloses a CUDA runtime call (cudaLaunchKernel) on its
thread, and the runtime call shares a correlation id with the kernel it queued. Resolved here once, per
event, so a click in the saved page needs no lookup in the browser.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workbench.model.ops import CATEGORY_CODE, OpTable

IntArray = npt.NDArray[np.int64]
NONE = -1
RUNTIME_CATEGORIES = ("cuda_runtime", "cuda_driver")
LAUNCHER_CATEGORIES = ("cpu_op", "user_annotation")


@dataclass(frozen=True)
class LaunchLinks:
    """Per event: the runtime call that queued it and that call's innermost enclosing op, or NONE."""

    runtime: IntArray
    launcher: IntArray


def launch_links(table: OpTable, parent: IntArray, on_thread: npt.NDArray[np.bool_]) -> LaunchLinks:
    """`parent` is each host event's enclosing event (NONE at the top); `on_thread` marks host events."""
    runtime = table.launch_calls()
    drawn = runtime != NONE
    drawn[drawn] = on_thread[runtime[drawn]]  # a call on a row the timeline does not draw links nowhere
    runtime[~drawn] = NONE
    launcher = np.full(len(table), NONE, np.int64)
    calls = np.unique(runtime[drawn])
    launcher[calls] = _enclosing(table, parent, calls)
    return LaunchLinks(runtime, launcher)


def _enclosing(table: OpTable, parent: IntArray, events: IntArray) -> IntArray:
    """The innermost CPU op or user annotation around each event, climbing past runtime and other calls."""
    codes = np.array([CATEGORY_CODE[c] for c in LAUNCHER_CATEGORIES], dtype=np.uint8)
    current = parent[events].copy()
    climbing = current != NONE
    climbing[climbing] = ~np.isin(table.category[current[climbing]], codes)
    # Each round climbs one level, so this loops at most as deep as the ops nest.
    while climbing.any():
        current[climbing] = parent[current[climbing]]
        climbing &= current != NONE
        climbing[climbing] = ~np.isin(table.category[current[climbing]], codes)
    return current
