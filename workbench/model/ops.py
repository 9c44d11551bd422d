"""Operator and GPU events from torch.profiler (Kineto), stored as columns.

A cell can launch a million kernels: one `Span` object per event would cost hundreds of bytes each and
seconds to build, so these events live in numpy columns (about 40 bytes an event) with their names,
lanes and details interned. Times are nanoseconds on the run's clock, like every other event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

# Kineto's event categories ("cat"), in a fixed order: the `category` column stores the index.
CATEGORIES = (
    "cpu_op",
    "user_annotation",
    "python_function",
    "cuda_runtime",
    "cuda_driver",
    "kernel",
    "gpu_memcpy",
    "gpu_memset",
    "cuda_sync",
    "gpu_user_annotation",
    "other",
)
CATEGORY_CODE = {name: code for code, name in enumerate(CATEGORIES)}
# Work the GPU does: counted as busy time. A `cuda_sync` event on a stream is the host waiting, not work.
GPU_WORK = ("kernel", "gpu_memcpy", "gpu_memset")
# CUDA runtime/driver calls that put work on a stream; their time is the host's launch overhead.
LAUNCH_CALLS = frozenset(
    {
        "cudaLaunchKernel",
        "cudaLaunchKernelExC",
        "cudaLaunchCooperativeKernel",
        "cudaMemcpyAsync",
        "cudaMemsetAsync",
        "cudaGraphLaunch",
        "cuLaunchKernel",
        "cuLaunchKernelEx",
    }
)
NO_DETAIL = -1
NO_CORRELATION = 0

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class OpLane:
    """One row of the op timeline: a host thread's ops, or one CUDA stream of one device."""

    kind: str  # "thread" or "stream"
    device: int  # -1 for host threads
    ident: int  # the thread id, or the stream id
    label: str


@dataclass
class OpTable:
    start_ns: IntArray
    end_ns: IntArray
    category: npt.NDArray[np.uint8]
    name_id: npt.NDArray[np.int32]
    lane_id: npt.NDArray[np.int32]
    # Kineto's correlation id ties a CUDA runtime launch on the host to the GPU work it queued.
    correlation: IntArray
    detail_id: npt.NDArray[np.int32]
    names: list[str]
    lanes: list[OpLane]
    # Interned one-line details: input shapes of an op, grid and block of a kernel, bytes of a copy.
    details: list[str]
    source: str = "torch.profiler"
    dropped: int = 0
    gpu_note: str = ""  # why GPU events are absent, when they are
    devices: list[dict[str, object]] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.start_ns.size)

    @classmethod
    def empty(cls, source: str = "torch.profiler") -> OpTable:
        return cls(
            start_ns=np.zeros(0, np.int64),
            end_ns=np.zeros(0, np.int64),
            category=np.zeros(0, np.uint8),
            name_id=np.zeros(0, np.int32),
            lane_id=np.zeros(0, np.int32),
            correlation=np.zeros(0, np.int64),
            detail_id=np.zeros(0, np.int32),
            names=[],
            lanes=[],
            details=[],
            source=source,
        )

    @property
    def duration_ns(self) -> IntArray:
        return self.end_ns - self.start_ns

    def mask(self, categories: Iterable[str]) -> npt.NDArray[np.bool_]:
        codes = [CATEGORY_CODE[c] for c in categories]
        return np.isin(self.category, np.array(codes, dtype=np.uint8))

    def has_gpu(self) -> bool:
        return bool(self.mask(GPU_WORK).any())

    def launch_calls(self) -> IntArray:
        """Per row: the CUDA runtime or driver call that queued this GPU work (the host event with the same
        correlation id), or -1 for host events and work with no such call in the trace."""
        calls_for = np.full(len(self), -1, np.int64)
        has_id = self.correlation != NO_CORRELATION
        calls = np.flatnonzero(self.mask(("cuda_runtime", "cuda_driver")) & has_id)
        work = np.flatnonzero(self.mask(GPU_WORK) & has_id)
        if calls.size == 0 or work.size == 0:
            return calls_for
        calls = calls[np.argsort(self.correlation[calls], kind="stable")]
        keys = self.correlation[calls]
        at = np.minimum(np.searchsorted(keys, self.correlation[work]), keys.size - 1)
        matched = keys[at] == self.correlation[work]
        calls_for[work[matched]] = calls[at[matched]]
        return calls_for

    def detail(self, row: int) -> str:
        detail = int(self.detail_id[row])
        return "" if detail == NO_DETAIL else self.details[detail]

    def frame(self) -> pd.DataFrame:
        """One row per event: what `Run.ops` shows users."""
        names = np.array(self.names, dtype=object)
        labels = np.array([lane.label for lane in self.lanes], dtype=object)
        details = np.array([*self.details, ""], dtype=object)  # NO_DETAIL (-1) picks the trailing ""
        return pd.DataFrame(
            {
                "name": names[self.name_id] if len(self) else [],
                "category": np.array(CATEGORIES, dtype=object)[self.category],
                "lane": labels[self.lane_id] if len(self) else [],
                "start_ms": self.start_ns / 1e6,
                "end_ms": self.end_ns / 1e6,
                "duration_ms": self.duration_ns / 1e6,
                "correlation": self.correlation,
                "detail": details[self.detail_id] if len(self) else [],
            }
        )
