"""Which host op launched each piece of GPU work, from Kineto's correlation ids.

The chain in a trace is: a CPU op (aten::addmm) encloses a CUDA runtime call (cudaLaunchKernel) on its
thread, and the runtime call shares a correlation id with the kernel it queued. Resolved here once, per
event, so a click in the saved page needs no lookup in the browser.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workbench.model.ops import CATEGORY_CODE, GPU_WORK, NO_CORRELATION, OpTable

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
    n = len(table)
    runtime = np.full(n, NONE, np.int64)
    launcher = np.full(n, NONE, np.int64)
    calls = np.flatnonzero(table.mask(RUNTIME_CATEGORIES) & on_thread & (table.correlation != NO_CORRELATION))
    work = np.flatnonzero(table.mask(GPU_WORK) & (table.correlation != NO_CORRELATION))
    if calls.size == 0 or work.size == 0:
        return LaunchLinks(runtime, launcher)
    calls = calls[np.argsort(table.correlation[calls], kind="stable")]
    keys = table.correlation[calls]
    at = np.minimum(np.searchsorted(keys, table.correlation[work]), keys.size - 1)
    matched = keys[at] == table.correlation[work]
    runtime[work[matched]] = calls[at[matched]]
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
