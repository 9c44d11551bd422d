"""The thread that journals a recording into its run directory while the code runs (see store/journal.py).

Every `JOURNAL_EVERY_S` it appends what the recording gained; a kernel killed mid-cell then leaves a run
that loses at most that interval. A journal that cannot be written (a full disk, a read-only store) stops
with a notice; the cell goes on and the run is still saved at the end if it can be.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from workbench.model.recording import Recording
from workbench.store.journal import JournalCursor, append, increment

JOURNAL_EVERY_S = 1.0
# Named like the other profiler threads, so its samples are never taken for the cell's.
THREAD_NAME = "workbench-journal"


class JournalWriter:
    def __init__(self, recording: Recording, run_dir: Path, every_s: float = JOURNAL_EVERY_S) -> None:
        self.recording = recording
        self.run_dir = run_dir
        self.every_s = every_s
        self.problem: str | None = None
        # CPU time spent journaling (this thread's, so waiting for the GIL is not counted), for the benchmark.
        self.busy_s = 0.0
        self.flushes = 0
        self._cursor = JournalCursor()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop journaling; the session's save writes the whole run next (the journal is then removed)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def flush(self) -> None:
        started = time.thread_time()
        try:
            record = increment(self.recording, self._cursor)
            if record is not None:
                append(self.run_dir, record)
                self.flushes += 1
        except (OSError, ValueError, RuntimeError) as error:
            # RuntimeError: a span's attributes changed while being written; OSError: a full disk.
            self.problem = (
                f"the run's journal stopped ({type(error).__name__}: {error}); a crash now loses it"
            )
            self._stop.set()
        finally:
            self.busy_s += time.thread_time() - started

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.flush()
