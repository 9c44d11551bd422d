"""The CPU collector: py-spy when it can attach, else the in-process sampler, saying why."""

from __future__ import annotations

from workbench.collectors.base import CollectorContext
from workbench.collectors.inprocess import InProcessSampler
from workbench.collectors.pyspy import PySpyCollector, PySpyStartError
from workbench.model.events import CollectorStatus

FULL_PROFILER_HINT = "pip install py-spy and allow ptrace for the full out-of-process profiler"


class CpuCollector:
    name = "cpu"

    def __init__(self) -> None:
        self._active: PySpyCollector | InProcessSampler | None = None
        self.notice: str | None = None

    def is_available(self) -> tuple[bool, str]:
        return True, ""

    def start(self, context: CollectorContext) -> None:
        pyspy = PySpyCollector()
        available, reason = pyspy.is_available()
        if available:
            try:
                pyspy.start(context)
                self._active = pyspy
                return
            except (PySpyStartError, OSError) as error:
                reason = str(error)
        self.notice = f"CPU profile: using the in-process sampler (Python frames only): {reason}"
        fallback = InProcessSampler(reason)
        fallback.start(context)
        self._active = fallback

    def stop(self) -> CollectorStatus:
        if self._active is None:
            return CollectorStatus(self.name, False, "never started")
        return self._active.stop()
