"""The collector interface and what a collector is given when it starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from workbench.clock import RunClock
from workbench.model.events import CollectorStatus
from workbench.model.recording import Recording


@dataclass
class CollectorContext:
    clock: RunClock
    recording: Recording
    pid: int
    main_thread_id: int
    rate_hz: int = 100
    native: bool = False
    gil: bool = False
    include_idle: bool = False
    # Files whose outermost frame becomes a stack's root (the profiled script); cells are found by name.
    anchor_files: frozenset[str] = frozenset()
    # The part of the run that belongs to the profiled code; samples outside it are the profiler's own.
    window_start_ns: int = 0
    window_end_ns: int | None = None
    notes: dict[str, object] = field(default_factory=dict)
    # Where a collector writes raw output that must outlive the kernel (the run's directory while it is
    # recorded, see store/journal.py); None: a temporary folder, removed at stop.
    output_dir: Path | None = None


class Collector(Protocol):
    name: str

    def is_available(self) -> tuple[bool, str]:
        """(True, "") or (False, a one-line reason with how to fix it)."""
        ...

    def start(self, context: CollectorContext) -> None: ...

    def stop(self) -> CollectorStatus:
        """Stop, write what was collected into the context's recording, and say how it went."""
        ...
