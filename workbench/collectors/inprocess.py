"""The fallback CPU sampler: a thread in this process reading `sys._current_frames()`.

Lower fidelity than py-spy (Python frames only; it needs the GIL, so a long C call that holds the GIL
delays samples), but it needs no ptrace permission.
"""

from __future__ import annotations

import sys
import threading
from types import FrameType

from workbench.analysis.stacks import is_parked, trim_stack
from workbench.collectors.base import CollectorContext
from workbench.model.events import CollectorStatus, Frame, StackSample


def frames_of(frame: FrameType | None) -> list[Frame]:
    """A Python frame chain as `Frame`s, root first."""
    out = []
    while frame is not None:
        code = frame.f_code
        out.append(Frame(code.co_name, code.co_filename, frame.f_lineno or 0))
        frame = frame.f_back
    out.reverse()
    return out


class InProcessSampler:
    name = "cpu:in-process"

    def __init__(self, reason: str = "") -> None:
        self.reason = reason
        self._context: CollectorContext | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # thread id -> (start_ns, stack_id, count) of the state still running
        self._open: dict[int, tuple[int, int, int]] = {}
        self._ticks = 0

    def is_available(self) -> tuple[bool, str]:
        return hasattr(sys, "_current_frames"), "sys._current_frames is not available"

    def start(self, context: CollectorContext) -> None:
        self._context = context
        self._thread = threading.Thread(target=self._loop, name="workbench-sampler", daemon=True)
        self._thread.start()
        # Named in the run now: the session names sampled threads after this one has ended.
        context.recording.threads[self._thread.ident or 0] = self._thread.name

    def _loop(self) -> None:
        context = self._context
        assert context is not None
        interval = 1.0 / context.rate_hz
        own = threading.get_ident()
        while not self._stop.wait(interval):
            now = context.clock.now_ns()
            self._ticks += 1
            for thread_id, frame in sys._current_frames().items():
                if thread_id != own:
                    self._observe(context, thread_id, frames_of(frame), now)

    def _observe(self, context: CollectorContext, thread_id: int, frames: list[Frame], now: int) -> None:
        trimmed = trim_stack(frames, context.anchor_files)
        if thread_id != context.main_thread_id and is_parked(trimmed):
            trimmed = []
        stack_id = context.recording.intern_stack(trimmed)
        state = self._open.get(thread_id)
        if state is not None and state[1] == stack_id:
            self._open[thread_id] = (state[0], stack_id, state[2] + 1)
            return
        if state is not None:
            self._close(context, thread_id, state, now)
        self._open[thread_id] = (now, stack_id, 1)

    def _close(
        self, context: CollectorContext, thread_id: int, state: tuple[int, int, int], end: int
    ) -> None:
        start, stack_id, count = state
        start = max(start, context.window_start_ns)
        if context.window_end_ns is not None:
            end = min(end, context.window_end_ns)
        if end <= start or (not context.recording.stacks[stack_id] and not context.include_idle):
            return
        context.recording.add_sample(StackSample(start, thread_id, stack_id, end - start, count))

    def stop(self) -> CollectorStatus:
        context = self._context
        if context is None or self._thread is None:
            return CollectorStatus(self.name, False, "never started")
        self._stop.set()
        self._thread.join()
        end = context.clock.now_ns()
        for thread_id, state in list(self._open.items()):
            self._close(context, thread_id, state, end)
        self._open.clear()
        elapsed_s = max((end - context.window_start_ns) / 1e9, 1e-9)
        context.notes["cpu_samples"] = sum(s.count for s in context.recording.samples)
        context.notes["cpu_rate_hz"] = round(self._ticks / elapsed_s, 1)
        return CollectorStatus(self.name, True, f"fallback in-process sampler ({self.reason})")
