"""Live findings: the finding rules on the run so far, shown in the live dashboard before the cell ends.

The updater's tick is driven directly, on a stepped clock, while a scripted cell grows its recording: a
planted bottleneck must show in the dashboard's findings list before the end, a clean cell must show
none, and a rule that raises must cost nothing but its own findings (one notice)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pytest

from workbench.analysis.findings import RULES, Finding
from workbench.analysis.findings.registry import Rule
from workbench.clock import RunClock
from workbench.model import Recording
from workbench.model.events import Span, TokenEvent
from workbench.render.live.dashboard import LiveDashboard
from workbench.render.live.widget import BatchedBokehModel
from workbench.session.live import findings as live_findings
from workbench.session.live.findings import (
    END_ONLY_KINDS,
    FINDINGS_EVERY_S,
    MAX_CPU_SHARE,
    LiveFindings,
    live_kinds,
    partial_run,
)
from workbench.session.live.updater import TICK_S, LiveSource, LiveUpdater

MS = 1_000_000
S = 1_000_000_000
TICK_NS = int(TICK_S * S)


@dataclass(frozen=True)
class SteppedClock(RunClock):
    """A run clock the test moves by hand: `now_ns` is whatever `at[0]` says."""

    at: list[int] = field(default_factory=lambda: [0])

    def now_ns(self) -> int:
        return self.at[0]


@dataclass
class ScriptedCell:
    """A cell's recording growing with the (stepped) time: spans open and close, tokens arrive, when due."""

    steps: list[tuple[int, Callable[[Recording], object]]] = field(default_factory=list)
    recording: Recording = field(default_factory=Recording)
    _done: int = 0

    def span(
        self, span_id: int, name: str, kind: str, start_ms: float, end_ms: float, **attrs: Any
    ) -> ScriptedCell:
        start, end = int(start_ms * MS), int(end_ms * MS)
        span = Span(span_id, name, kind, start, None, parent_id=None if kind == "cell" else 1, attrs=attrs)
        self.steps.append((start, lambda rec: rec.add_span(span)))
        self.steps.append((end, lambda rec: setattr(span, "end_ns", end)))
        return self

    def tokens(self, request_id: int, first_ms: float, last_ms: float, every_ms: float) -> ScriptedCell:
        t = first_ms
        while t <= last_ms:
            at = int(t * MS)
            self.steps.append((at, partial(Recording.add_token, event=TokenEvent(request_id, at, 1))))
            t += every_ms
        return self

    def advance(self, now_ns: int) -> None:
        self.steps.sort(key=lambda step: step[0])
        while self._done < len(self.steps) and self.steps[self._done][0] <= now_ns:
            self.steps[self._done][1](self.recording)
            self._done += 1

    @property
    def end_ns(self) -> int:
        return max(t for t, _ in self.steps)


def run_live(
    cell: ScriptedCell,
    until_ns: int | None = None,
    notices: list[str] | None = None,
    ignore: Collection[str] = (),
) -> tuple[LiveUpdater, list[list[str]], list[int]]:
    """Tick the updater every TICK_S of stepped time while the cell grows, up to `until_ns` (default: its
    end, not included). Returns the updater, the findings' kinds after each tick and the messages sent."""
    clock = SteppedClock(0, 0.0)
    dashboard = LiveDashboard("live findings")
    widget = BatchedBokehModel(dashboard.layout)
    sent: list[int] = []
    widget.send = lambda content, buffers=None: sent.append(1)  # type: ignore[method-assign]
    source = LiveSource(cell.recording, clock, threading.get_ident(), ignore_findings=frozenset(ignore))
    notify = notices.append if notices is not None else (lambda text: None)
    updater = LiveUpdater(source, dashboard, batch=widget.batch, notify=notify)
    kinds_seen = []
    messages = []
    end = cell.end_ns if until_ns is None else until_ns
    t = 0
    while t < end:
        t += TICK_NS
        clock.at[0] = min(t, end - 1)
        cell.advance(clock.at[0])
        before = len(sent)
        updater.tick()
        messages.append(len(sent) - before)
        kinds_seen.append(list(dashboard.findings_rows["kind"]))
    return updater, kinds_seen, messages


def sequential_requests() -> ScriptedCell:
    """Three independent LLM requests of 1 s each, one after another: 2 s to gain by running them at once."""
    cell = ScriptedCell().span(1, "cell", "cell", 0, 3300)
    for i, start in enumerate((100, 1150, 2200), start=2):
        cell.span(i, f"ask {i - 1}", "llm", start, start + 1000, send_ns=int((start + 2) * MS), stream=True)
        cell.tokens(i, start + 300, start + 990, 30)
    return cell


def python_stage_on_the_critical_path() -> ScriptedCell:
    """A 2.5 s prompt-building stage before a short request: the stage is most of the critical path."""
    return (
        ScriptedCell()
        .span(1, "cell", "cell", 0, 3400)
        .span(2, "build prompt", "prompt", 50, 2550)
        .span(3, "ask", "llm", 2600, 3300, send_ns=2602 * MS, stream=True)
        .tokens(3, 2800, 3290, 20)
    )


def clean_cell() -> ScriptedCell:
    """One streamed request that is most of the cell, after a few ms of prompt building."""
    return (
        ScriptedCell()
        .span(1, "cell", "cell", 0, 3500)
        .span(2, "build prompt", "prompt", 10, 30)
        .span(3, "ask", "llm", 40, 3450, send_ns=41 * MS, stream=True)
        .tokens(3, 400, 3440, 25)
    )


def test_a_planted_sequential_llm_bottleneck_shows_live_before_the_cell_ends() -> None:
    cell = sequential_requests()
    updater, kinds, messages = run_live(cell)
    dashboard = updater.dashboard
    # It is there before the cell ended (the updater never got done=True) ...
    assert "sequential_llm" in kinds[-1]
    assert not dashboard.done
    # ... from the first evaluation after the second request started (FINDINGS_EVERY_S = 2 s in).
    first = next(i for i, k in enumerate(kinds) if "sequential_llm" in k)
    assert (first + 1) * TICK_S <= FINDINGS_EVERY_S + TICK_S
    assert dashboard.findings.visible
    row = dict(zip(dashboard.findings_rows["kind"], dashboard.findings_rows["gain"], strict=True))
    assert "so far" in row["sequential_llm"] and row["sequential_llm"].startswith("~")
    assert 'data-finding="sequential_llm"' in dashboard.findings.text
    assert "1 finding so far" in dashboard.findings.text
    # Every tick is one batched message (header, metadata, content), findings included.
    assert set(messages) == {3}
    # The last update (the cell ended) does not evaluate: the final panel replaces the live one.
    assert updater.findings is not None
    evaluations = updater.findings.stats().evaluations
    updater.stop()
    assert updater.findings.stats().evaluations == evaluations and not updater.failed


def test_a_python_stage_on_the_critical_path_shows_live() -> None:
    updater, kinds, _ = run_live(python_stage_on_the_critical_path(), until_ns=2500 * MS)
    # Still inside the stage: its time so far is already most of the cell.
    assert kinds[-1] == ["python_stage"]
    title = updater.dashboard.findings_rows["title"][0]
    assert "'build prompt'" in title
    assert updater.dashboard.findings_rows["severity"] == ["high"]


def test_a_clean_cell_shows_no_findings() -> None:
    notices: list[str] = []
    updater, kinds, _ = run_live(clean_cell(), notices=notices)
    assert all(k == [] for k in kinds)
    assert not updater.dashboard.findings.visible and updater.dashboard.findings.text == ""
    assert updater.findings is not None and updater.findings.stats().evaluations >= 1
    assert notices == []


def test_a_rule_that_raises_is_contained_and_reported_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def broken(run: Any, baseline: Any = None) -> list[Finding]:
        calls.append(1)
        raise ZeroDivisionError("planted")

    monkeypatch.setitem(RULES, "slow_consumer", Rule("slow_consumer", "broken", broken))
    notices: list[str] = []
    updater, kinds, messages = run_live(python_stage_on_the_critical_path(), notices=notices)
    assert len(calls) == 1  # left out after it failed
    assert len(notices) == 1 and "slow_consumer" in notices[0] and "planted" in notices[0]
    assert not updater.failed and set(messages) == {3}  # the live view went on
    assert "python_stage" in kinds[-1]  # and the other rules too


def test_a_failure_outside_the_rules_ends_only_the_live_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no partial run")

    monkeypatch.setattr(live_findings, "partial_run", fail)
    notices: list[str] = []
    updater, kinds, _ = run_live(sequential_requests(), notices=notices)
    assert updater.findings is not None and updater.findings.failed
    assert len(notices) == 1 and "no partial run" in notices[0]
    assert not updater.failed and updater.dashboard.ticks == len(kinds)
    assert all(k == [] for k in kinds)


def _finding(kind: str, gain_ms: float, stage: str = "") -> Finding:
    evidence = {"stage": stage} if stage else {}
    return Finding(kind, "medium", f"{kind} {stage}", evidence, [], "try", gain_ms, "assumed")


def test_findings_are_only_added_or_updated_never_withdrawn(monkeypatch: pytest.MonkeyPatch) -> None:
    answers: list[list[Finding]] = [
        [_finding("python_stage", 100, "a")],
        [],  # the share dipped below the threshold
        [_finding("python_stage", 300, "a"), _finding("python_stage", 50, "b")],
        [_finding("python_stage", 300, "a"), _finding("python_stage", 50, "b")],
    ]
    monkeypatch.setattr(
        live_findings, "RULES", {"python_stage": Rule("python_stage", "", lambda r, b: answers.pop(0))}
    )
    findings = LiveFindings()
    rec = sequential_requests().recording
    rec.add_span(Span(1, "cell", "cell", 0, None))
    rec.add_span(Span(2, "x", "prompt", 0, None, parent_id=1))
    every = findings.every_ns
    assert findings.poll(rec, every - 1) is None  # not due yet
    shown = [findings.poll(rec, every * n) for n in (1, 2, 3, 4)]
    assert [[f.gain_ms for f in s] if s is not None else None for s in shown] == [
        [100],
        None,  # nothing changed: nothing sent
        [300, 50],
        None,
    ]


def test_a_slow_evaluation_is_spread_over_ticks_and_pushes_the_next_one_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def slow(run: Any, baseline: Any = None) -> list[Finding]:
        began = time.thread_time_ns()
        while time.thread_time_ns() - began < 40 * MS:
            pass
        calls.append(1)
        return [_finding(f"slow {len(calls)}", 1.0)]

    calls: list[int] = []
    rules = {kind: Rule(kind, "", slow) for kind in ("client_queueing", "python_stage", "sequential_llm")}
    monkeypatch.setattr(live_findings, "RULES", rules)
    findings = LiveFindings()
    rec = Recording()
    rec.add_span(Span(1, "cell", "cell", 0, None))
    rec.add_span(Span(2, "x", "prompt", 0, None, parent_id=1))
    now = findings.every_ns
    polls = [findings.poll(rec, now + i) for i in range(4)]
    # One rule per tick (each is over STEP_MS), the list sent once, when the evaluation ends.
    assert calls == [1, 1, 1] and polls[:2] == [None, None] and polls[3] is None
    assert polls[2] is not None and len(polls[2]) == 3
    stats = findings.stats()
    assert stats.evaluations == 1 and stats.cpu_ms >= 120 and stats.max_step_ms < 100
    # 120 ms of rules, at most MAX_CPU_SHARE of the time: not again for 12 s, though every_s is 2 s.
    assert findings.next_ns - now >= 0.12 / MAX_CPU_SHARE * S * 0.95


def test_the_partial_run_closes_open_spans_at_now_without_touching_the_recording() -> None:
    cell = python_stage_on_the_critical_path()
    cell.advance(1000 * MS)
    run = partial_run(cell.recording, 1000 * MS)
    assert [s.end_ns for s in cell.recording.spans] == [None, None]
    assert [(s.end_ns, s.attrs.get("unfinished")) for s in run.recording.spans] == [
        (1000 * MS, True),
        (1000 * MS, True),
    ]
    assert run.wall_s == pytest.approx(1.0) and run.metrics["cell_start_ms"] == 0.0
    cell.recording.add_token(TokenEvent(3, 1, 1))
    assert run.recording.tokens == []  # a copy


def test_end_only_rules_are_skipped_and_ignored_kinds_left_out() -> None:
    assert set(END_ONLY_KINDS) <= set(RULES)
    kinds = live_kinds(ignore={"python_stage"})
    assert "python_stage" not in kinds and not set(kinds) & set(END_ONLY_KINDS)
    assert {"sequential_llm", "client_queueing", "slow_consumer", "token_accounting"} <= set(kinds)
    _, kinds_seen, _ = run_live(python_stage_on_the_critical_path(), ignore={"python_stage"})
    assert all(k == [] for k in kinds_seen)
