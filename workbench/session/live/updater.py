"""The one background thread that feeds the live dashboard while the cell runs.

Each tick it samples the cell thread's stack (py-spy's profile only appears when it stops), reads the
recording's increments and sends every change of the tick as one batched widget message. It never raises
into the cell: the first error is reported once and the live view stops; the final dashboard still comes.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace

from workbench.analysis.stacks import trim_stack
from workbench.clock import RunClock
from workbench.collectors.inprocess import frames_of
from workbench.model.events import Frame
from workbench.model.recording import Recording
from workbench.render.live.dashboard import LiveDashboard
from workbench.render.live.flame import LiveFlame
from workbench.render.live.snapshot import LiveCursor, LiveSnapshot
from workbench.session.live.findings import LiveFindings

# A little over two a second: the page must see two; every tick's Python holds the GIL and so slows the
# cell by its own CPU time (bench_live.py measures it).
TICK_S = 0.45
# The flame graph's layout is the largest part of a tick: refreshed about once a second, not every tick.
FLAME_EVERY_S = 1.0
JOIN_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class LiveSource:
    """What the updater reads: the growing recording, the run clock, and whose stack to sample."""

    recording: Recording
    clock: RunClock
    main_thread_id: int
    anchor_files: frozenset[str] = frozenset()
    # --ignore-finding: kinds the live findings leave out, as the final ones do.
    ignore_findings: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LiveStats:
    ticks: int
    wall_s: float
    cpu_ms: float
    max_tick_cpu_ms: float
    messages: int

    @property
    def cpu_ms_per_s(self) -> float:
        return self.cpu_ms / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def updates_per_s(self) -> float:
        return self.ticks / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def messages_per_s(self) -> float:
        return self.messages / self.wall_s if self.wall_s > 0 else 0.0


def sample_stack(thread_id: int, anchor_files: frozenset[str] = frozenset()) -> list[Frame]:
    """The thread's current stack, root first, trimmed to the cell's code (empty outside it)."""
    frame = sys._current_frames().get(thread_id)
    return trim_stack(frames_of(frame), anchor_files) if frame is not None else []


class LiveUpdater:
    def __init__(
        self,
        source: LiveSource,
        dashboard: LiveDashboard,
        batch: Callable[[], AbstractContextManager[None]] = nullcontext,
        messages: Callable[[], int] = lambda: 0,
        tick_s: float = TICK_S,
        notify: Callable[[str], None] | None = None,
        on_snapshot: Callable[[LiveSnapshot, bool], None] | None = None,
    ) -> None:
        self.source = source
        self.dashboard = dashboard
        self.batch = batch
        self.messages = messages
        self.tick_s = tick_s
        self.notify = notify or _print_notice
        # Also told each tick's snapshot (the status bar's comm, `live_status`); it must not raise.
        self.on_snapshot = on_snapshot
        self.flame = LiveFlame()
        self.cursor = LiveCursor()
        # The finding rules on the run so far, every few seconds (None: no live findings).
        self.findings: LiveFindings | None = LiveFindings(source.ignore_findings, notify=self.notify)
        self.failed = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_ns = 0
        self._flame_sent_ns = 0
        self._started = 0.0
        self._cpu_ns = 0
        self._max_tick_ns = 0
        self._ticks = 0

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def start(self) -> None:
        self._last_ns = self.source.clock.now_ns()
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._loop, name="workbench-live", daemon=True)
        self._thread.start()
        # Named in the run now: it is gone by the time the session names the sampled threads, and a
        # nameless thread of ours would pass for one of the cell's (e.g. to the GIL contention rule).
        if self._thread.ident is not None:
            self.source.recording.threads[self._thread.ident] = self._thread.name

    def _loop(self) -> None:
        # Ticks on absolute deadlines: a tick slowed by waiting for the GIL does not push every later
        # one back (a sleep after each tick would); a deadline already passed is skipped, not made up.
        deadline = time.perf_counter()
        while not self.failed:
            deadline += self.tick_s
            now = time.perf_counter()
            if deadline < now:
                deadline = now + self.tick_s - (now - deadline) % self.tick_s
            if self._stop.wait(deadline - now):
                return
            self.tick()

    def tick(self, status: str = "running", done: bool = False) -> None:
        """One update; any error ends the live view (reported once) and leaves the cell alone."""
        if self.failed:
            return
        began = time.thread_time_ns()
        try:
            self._update(status, done)
        except Exception as error:
            self.failed = True
            self.notify(
                f"the live view stopped ({type(error).__name__}: {error}); the final dashboard follows"
            )
        spent = time.thread_time_ns() - began
        self._cpu_ns += spent
        self._max_tick_ns = max(self._max_tick_ns, spent)
        self._ticks += 1

    def _update(self, status: str, done: bool) -> None:
        now = self.source.clock.now_ns()
        flame = None
        if not done:
            self.flame.add(
                sample_stack(self.source.main_thread_id, self.source.anchor_files), now - self._last_ns
            )
            if now - self._flame_sent_ns >= FLAME_EVERY_S * 1e9 or self._flame_sent_ns == 0:
                flame = self.flame.view()
                self._flame_sent_ns = now
        self._last_ns = now
        # Not on the last update: the final findings replace the live ones (LiveFindings never raises).
        found = None if done or self.findings is None else self.findings.poll(self.source.recording, now)
        snapshot = LiveSnapshot.from_recording(self.source.recording, self.cursor, now, self.flame.samples)
        if status != snapshot.status:
            snapshot = replace(snapshot, status=status)
        with self.batch():
            self.dashboard.update(snapshot, flame, done=done, findings=found)
        if self.on_snapshot is not None:
            self.on_snapshot(snapshot, done)

    def stop(self, final_status: str = "finished · building the final dashboard…") -> LiveStats:
        """Stop the thread, then send one last update saying the cell ended. Never raises."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(JOIN_TIMEOUT_S)
        if thread is None or not thread.is_alive():
            self.tick(final_status, done=True)
        return self.stats()

    def stats(self) -> LiveStats:
        wall = time.perf_counter() - self._started if self._started else 0.0
        try:
            messages = self.messages()
        except Exception:
            messages = 0
        return LiveStats(self._ticks, wall, self._cpu_ns / 1e6, self._max_tick_ns / 1e6, messages)


def _print_notice(text: str) -> None:
    print(f"workbench: {text}", file=sys.stderr)
