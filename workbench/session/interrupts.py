"""Holding a Ctrl-C (the kernel's interrupt) back while the run is saved, so that it never loses a run
whose code has already finished; the interrupt takes effect right after, during the analysis."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType


@dataclass
class HeldInterrupt:
    pressed: bool = False


@contextmanager
def interrupts_held() -> Iterator[HeldInterrupt]:
    """Within the block, SIGINT only sets `pressed`. Outside the main thread (where Python delivers no
    signal) or where the handler cannot be changed, it does nothing."""
    held = HeldInterrupt()
    if threading.current_thread() is not threading.main_thread():
        yield held
        return

    def note(signum: int, frame: FrameType | None) -> None:
        held.pressed = True

    try:
        previous = signal.signal(signal.SIGINT, note)
    except (ValueError, OSError):
        yield held
        return
    try:
        yield held
    finally:
        signal.signal(signal.SIGINT, previous)
