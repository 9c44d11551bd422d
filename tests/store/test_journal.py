"""The journal of a run being recorded: increments replay into the same recording; spans written open are
written again once closed; a last line cut short by a kill is ignored; a full disk stops the writer with a
notice instead of raising into the cell."""

from __future__ import annotations

from pathlib import Path

from workbench.model.events import Counter, Frame, Span, TokenEvent
from workbench.model.recording import Recording
from workbench.session.journaling import JournalWriter
from workbench.store.journal import JOURNAL_FILE, JournalCursor, append, increment, read_journal


def _grow(recording: Recording, step: int) -> None:
    recording.add_span(Span(step * 2 + 1, f"closed{step}", "tool", step, step + 1))
    recording.add_span(Span(step * 2 + 2, f"open{step}", "llm", step, None))
    recording.add_token(TokenEvent(step, step * 10, 3))
    recording.add_counter(Counter("gpu.util", step, 50.0))
    recording.intern_stack([Frame("main", "a.py", 1), Frame(f"f{step}", "a.py", step)])
    recording.threads[step] = f"thread-{step}"


def test_increments_replay_into_the_same_recording(tmp_path: Path) -> None:
    recording, cursor = Recording(), JournalCursor()
    for step in range(3):
        _grow(recording, step)
        record = increment(recording, cursor)
        assert record is not None
        append(tmp_path, record)
    recording.spans[1].end_ns = 99  # an open span closes: journaled again with its end
    append(tmp_path, increment(recording, cursor) or {})
    assert increment(recording, cursor) is None  # nothing new
    replayed = read_journal(tmp_path)
    assert replayed is not None
    assert [(s.span_id, s.end_ns) for s in replayed.spans] == [(s.span_id, s.end_ns) for s in recording.spans]
    assert replayed.tokens == recording.tokens and replayed.counters == recording.counters
    assert replayed.frames == recording.frames and replayed.stacks == recording.stacks
    assert replayed.threads == recording.threads


def test_a_line_cut_short_by_a_kill_keeps_everything_before_it(tmp_path: Path) -> None:
    recording, cursor = Recording(), JournalCursor()
    _grow(recording, 0)
    append(tmp_path, increment(recording, cursor) or {})
    with (tmp_path / JOURNAL_FILE).open("a") as journal:
        journal.write('{"tokens": [[1, 2, ')
    replayed = read_journal(tmp_path)
    assert replayed is not None and len(replayed.tokens) == 1 and len(replayed.spans) == 2


def test_no_journal_is_none(tmp_path: Path) -> None:
    assert read_journal(tmp_path) is None


def test_a_writer_that_cannot_write_stops_with_a_problem_not_an_exception(tmp_path: Path) -> None:
    recording = Recording()
    _grow(recording, 0)
    writer = JournalWriter(recording, tmp_path / "missing-folder")
    writer.flush()
    assert writer.problem is not None and "journal stopped" in writer.problem
    ok = JournalWriter(recording, tmp_path)
    ok.flush()
    assert ok.problem is None and ok.flushes == 1 and (tmp_path / JOURNAL_FILE).is_file()
