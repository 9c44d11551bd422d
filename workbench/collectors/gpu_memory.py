"""torch's view of GPU memory: what its caching allocator has handed out and what it holds, per CUDA device.

NVML sees a process's whole footprint (context, cuBLAS workspaces, the allocator's cache); torch sees
what tensors use. The gap between the two is what `empty_cache()` could give back.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class CudaMemory:
    device: int  # torch's CUDA index (CUDA_VISIBLE_DEVICES may make it differ from NVML's)
    allocated_bytes: int
    reserved_bytes: int


class MemoryProbe(Protocol):
    def read(self) -> list[CudaMemory]:
        """One reading per CUDA device, or nothing when CUDA is not in use in this process."""
        ...


class TorchMemoryProbe:
    """Reads torch's allocator only where the profiled code already uses CUDA.

    Importing torch or initialising CUDA ourselves would cost seconds and reserve GPU memory in the
    user's process, so a process that has not done both gets no readings (checked on every read: a
    cell often initialises CUDA while it is being profiled).
    """

    def read(self) -> list[CudaMemory]:
        torch: Any = sys.modules.get("torch")
        if torch is None:
            return []
        try:
            cuda = torch.cuda
            if not cuda.is_initialized():
                return []
            return [
                CudaMemory(i, int(cuda.memory_allocated(i)), int(cuda.memory_reserved(i)))
                for i in range(cuda.device_count())
            ]
        except Exception:
            # torch may be half-imported (the main thread is importing it right now) or in a broken
            # CUDA state; a telemetry reading is not worth an exception in the sampler.
            return []
