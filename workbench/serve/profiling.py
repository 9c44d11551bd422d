"""`POST /start_profile` and `POST /stop_profile`, as vLLM has them: a torch.profiler trace of the
server's model backend, written into `--profile-dir` when it stops.

vLLM writes one trace per worker with torch's `tensorboard_trace_handler`
(`<worker>.<time>.pt.trace.json.gz`);
this server has one worker, `rank0`. torch loads only when profiling starts (the synthetic backend never
needs it otherwise); on a CPU build only CPU activity is recorded. torch.profiler records the operators of
the thread that started it only (and must stop there), so with a backend that computes on a thread of its
own (the model backend's `profiling_executor`) the profiler starts and stops on that thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ProfileStateError(Exception):
    """A start while profiling, a stop while not, or no directory to write into (HTTP 400)."""


class ProfilerControl:
    def __init__(self, directory: Path | None, executor: Executor | None = None) -> None:
        self.directory = directory
        self._executor = executor
        self._profiler: Any = None
        self._lock = threading.Lock()

    async def call(self, action: Callable[[], T]) -> T:
        """`action` (start or stop) on the backend's compute thread, else here (the event loop's thread)."""
        if self._executor is None:
            return action()
        return await asyncio.get_running_loop().run_in_executor(self._executor, action)

    @property
    def active(self) -> bool:
        return self._profiler is not None

    def start(self) -> None:
        with self._lock:
            if self.directory is None:
                raise ProfileStateError("profiling is off: start the server with --profile-dir DIR")
            if self._profiler is not None:
                raise ProfileStateError("the profiler is already running")
            import torch

            self.directory.mkdir(parents=True, exist_ok=True)
            activities = [torch.profiler.ProfilerActivity.CPU]
            if torch.cuda.is_available():
                activities.append(torch.profiler.ProfilerActivity.CUDA)
            profiler = torch.profiler.profile(
                activities=activities,
                record_shapes=True,
                with_stack=False,
                on_trace_ready=torch.profiler.tensorboard_trace_handler(
                    str(self.directory), worker_name="rank0", use_gzip=True
                ),
            )
            profiler.start()
            self._profiler = profiler

    def stop(self) -> list[str]:
        """Stop and write the trace; the files now in the directory that this stop wrote."""
        with self._lock:
            profiler, self._profiler = self._profiler, None
            if profiler is None:
                raise ProfileStateError("the profiler is not running (POST /start_profile first)")
            assert self.directory is not None
            before = set(self.directory.iterdir())
            profiler.stop()
            return sorted(str(p) for p in set(self.directory.iterdir()) - before)
