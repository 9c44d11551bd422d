"""Findings while the cell runs: the finding rules on a partial run built from the recording so far.

Every `FINDINGS_EVERY_S` the updater thread copies what has been recorded (open spans end "now", as the
session closes them at the end), runs the rules that can judge a partial run, and merges what they found
into the findings shown so far. Findings are only added or updated, never taken away while the cell runs:
a share that dips below a threshold for a few seconds would otherwise blink in and out. The final run's
findings (`session_findings`) replace the whole list when the cell ends.

The rules run on the updater's thread and hold the GIL, so they slow the cell by their CPU time: an
evaluation that took long pushes the next one back so that the rules never take more than
`MAX_CPU_SHARE` of the cell's time. A rule that raises is left out for the rest of the cell, with one
notice; nothing here may raise into the updater.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, replace

from workbench.analysis.findings import RULES, Finding
from workbench.analysis.findings.model import SEVERITIES
from workbench.model.events import Span
from workbench.model.recording import Recording
from workbench.model.run import Run

NS_PER_S = 1_000_000_000
# Often enough that a bottleneck shows a few seconds after it becomes detectable, rarely enough that the
# rules' cost (an evaluation reads the whole recording) stays small beside the 0.45 s ticks.
FINDINGS_EVERY_S = 2.0
# The rules may take at most this share of the cell's time (the GIL they hold is the cell's): an evaluation
# that cost 50 ms of CPU waits 5 s for the next one, whatever FINDINGS_EVERY_S says. One evaluation grows
# with the run: ~5 ms of CPU after 10 s of a RAG loop (125 spans), ~30 ms after 60 s, ~170 ms after 300 s
# (3,600 spans, 45,000 token arrivals), measured on the 2-core VM.
MAX_CPU_SHARE = 0.01
# An evaluation runs rules until a poll has spent this much CPU and goes on at the next tick: a small run
# is judged in one tick, a large one (a rule then takes tens of ms) a rule or two per tick.
STEP_MS = 10.0
STEP_NS = int(STEP_MS * 1e6)
# A span that closed this recently may still get attributes from the thread that closed it (an LLM call
# sets its stream timings just after its end): it is copied again at the next evaluation, not kept.
SETTLE_NS = 1_000_000_000
# Rules that judge only data that exists once the cell has ended; they are skipped while it runs.
END_ONLY_KINDS: dict[str, str] = {
    "regression": "compares the finished cell with a baseline run",
    "host_bound": "reads the Kineto op trace, collected when the profiler stops",
    "launch_overhead": "reads the Kineto op trace, collected when the profiler stops",
    "sync_in_decode": "reads the Kineto op trace, collected when the profiler stops",
    "batch_opportunity": "needs the GPUs' device info, read when the cell ends",
    "memory_pressure": "needs the GPUs' device info, read when the cell ends",
    "gil_contention": "names the threads from CPU samples, which py-spy writes when it stops",
}


@dataclass(frozen=True)
class LiveFindingsStats:
    evaluations: int
    cpu_ms: float
    max_cpu_ms: float  # of one evaluation
    max_step_ms: float  # of one poll: the longest the rules held the GIL at once


def live_kinds(ignore: Collection[str] = ()) -> list[str]:
    """The rules that run while the cell runs: all but the end-only ones and those the user ignores."""
    return sorted(kind for kind in RULES if kind not in END_ONLY_KINDS and kind not in ignore)


def partial_run(recording: Recording, now_ns: int, settled: dict[int, Span] | None = None) -> Run:
    """A `Run` of what `recording` holds at `now_ns`, safe to analyse while other threads still record.

    The lists are copied (other threads only append to them); spans are copied too, an open one ending at
    `now_ns` and marked unfinished as the session marks it at the end, so no rule sees a span change under
    it. `settled` (span index -> copy) keeps the copies of spans closed long enough ago between calls.
    """
    settled = {} if settled is None else settled
    # Samples before stacks before frames: each sample's stack and frames are interned before it is added.
    samples = list(recording.samples)
    stacks = list(recording.stacks)
    frames = list(recording.frames)
    spans = list(recording.spans)
    copies = []
    for index, span in enumerate(spans):
        copy = settled.get(index)
        if copy is None:
            end = span.end_ns
            if end is None:
                copy = replace(
                    span, end_ns=max(now_ns, span.start_ns), attrs={**span.attrs, "unfinished": True}
                )
            else:
                copy = replace(span, attrs=dict(span.attrs))
                if end < now_ns - SETTLE_NS:
                    settled[index] = copy
        copies.append(copy)
    partial = Recording(threads=dict(recording.threads), dropped=dict(recording.dropped))
    # Assigned, not passed: the constructor would index every frame and stack, which no rule needs.
    partial.spans = copies
    partial.tokens = list(recording.tokens)
    partial.counters = list(recording.counters)
    partial.samples = samples
    partial.stacks = stacks
    partial.frames = frames
    roots = [s for s in copies if s.kind == "cell" and s.parent_id is None]
    start_ns = min((s.start_ns for s in roots), default=0)
    end_ns = max(now_ns, start_ns)
    return Run(
        id="live",
        name="live",
        created="",
        duration_ns=end_ns,
        origin_wall_s=0.0,
        recording=partial,
        metrics={
            "wall_s": (end_ns - start_ns) / NS_PER_S,
            "cell_start_ms": start_ns / 1e6,
            "cell_end_ms": end_ns / 1e6,
        },
    )


class LiveFindings:
    """The findings shown so far; `poll` evaluates the rules when due and says when the list changed.

    One evaluation may be spread over several polls (ticks), a rule or more at a time, in steps of about
    `STEP_MS` of CPU: the cell then waits for the GIL at most about one rule's time per tick, not all of
    them at once (a long pause would also show up in the profile, e.g. as a gap between tokens).
    """

    def __init__(
        self,
        ignore: Collection[str] = (),
        notify: Callable[[str], None] | None = None,
        every_s: float = FINDINGS_EVERY_S,
    ) -> None:
        self.kinds = live_kinds(ignore)
        self.notify = notify or (lambda text: None)
        self.every_ns = int(every_s * NS_PER_S)
        self.next_ns = self.every_ns
        self.failed = False
        self.shown: dict[tuple[str, str], Finding] = {}
        self._settled: dict[int, Span] = {}
        self._failed_kinds: set[str] = set()
        self._reported = False
        self._sent: list[Finding] = []
        self._steps: Iterator[bool] | None = None
        self._evaluation_ns = 0
        self._evaluations = 0
        self._cpu_ns = 0
        self._max_cpu_ns = 0
        self._max_step_ns = 0

    def poll(self, recording: Recording, now_ns: int) -> list[Finding] | None:
        """The findings to show, largest gain first, when an evaluation ended and they changed; else None.
        Never raises: a failure is reported once and ends the live findings (the final ones still come)."""
        if self.failed:
            return None
        if self._steps is None:
            if now_ns < self.next_ns:
                return None
            self._steps = self._evaluate(recording, now_ns)
            self._evaluation_ns = 0
        began = time.thread_time_ns()
        finished = False
        try:
            while not finished:
                finished = not next(self._steps, False)
                if time.thread_time_ns() - began >= STEP_NS:
                    break
        except Exception as error:
            self.failed = True
            self._steps = None
            self._report(f"live findings stopped ({type(error).__name__}: {error}); the final ones follow")
            return None
        finally:
            spent = time.thread_time_ns() - began
            self._cpu_ns += spent
            self._evaluation_ns += spent
            self._max_step_ns = max(self._max_step_ns, spent)
        if not finished:
            return None
        self._steps = None
        self._evaluations += 1
        self._max_cpu_ns = max(self._max_cpu_ns, self._evaluation_ns)
        self.next_ns = now_ns + max(self.every_ns, int(self._evaluation_ns / MAX_CPU_SHARE))
        current = ranked(list(self.shown.values()))
        if current == self._sent:
            return None
        self._sent = current
        return current

    def stats(self) -> LiveFindingsStats:
        return LiveFindingsStats(
            self._evaluations, self._cpu_ns / 1e6, self._max_cpu_ns / 1e6, self._max_step_ns / 1e6
        )

    def _evaluate(self, recording: Recording, now_ns: int) -> Iterator[bool]:
        """One evaluation, a step per rule: the partial run is built once, when it starts."""
        if len(recording.spans) < 2:
            return  # only the cell's own span: every live rule reads the spans under it
        run = partial_run(recording, now_ns, self._settled)
        for kind in self.kinds:
            if kind in self._failed_kinds:
                continue
            yield True
            try:
                found = RULES[kind].detect(run, None)
            except Exception as error:
                self._failed_kinds.add(kind)
                self._report(
                    f"finding rule {kind!r} failed on the run so far ({type(error).__name__}: {error}); "
                    "it is left out until the cell ends"
                )
                continue
            for finding in found:
                self.shown[finding_key(finding)] = finding

    def _report(self, text: str) -> None:
        if not self._reported:
            self._reported = True
            self.notify(text)


def finding_key(finding: Finding) -> tuple[str, str]:
    """What stays the same while a finding's numbers grow: its kind, and the stage or device it names."""
    where = finding.evidence.get("stage", finding.evidence.get("device", ""))
    return finding.kind, str(where)


def ranked(findings: list[Finding]) -> list[Finding]:
    rank = {severity: i for i, severity in enumerate(SEVERITIES)}
    return sorted(findings, key=lambda f: (-f.gain_ms, rank.get(f.severity, len(rank)), f.kind))
