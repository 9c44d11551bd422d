"""The journal of a run being recorded: what the recording gained since the last flush, appended to
`journal.jsonl` in the run's directory, so a kernel killed mid-cell (SIGKILL, a forced restart, an
out-of-memory kill) loses at most the last flush interval.

Each line is one JSON object holding the new spans (and the spans that closed since), token arrivals,
counters, interned frames and stacks, CPU samples and thread names. Reading replays the lines in order; a
last line cut short by the kill is ignored. The journal is removed once the run is saved whole.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.model.events import Counter, Frame, Span, StackSample, TokenEvent
from workbench.model.recording import Recording

JOURNAL_FILE = "journal.jsonl"


@dataclass
class JournalCursor:
    """How much of a recording has been journaled: the length of each append-only list, and the spans
    written while still open (written again once they close)."""

    tokens: int = 0
    counters: int = 0
    frames: int = 0
    stacks: int = 0
    samples: int = 0
    spans: int = 0
    open_spans: dict[int, Span] = field(default_factory=dict)
    threads: int = 0


def increment(recording: Recording, cursor: JournalCursor) -> dict[str, Any] | None:
    """What `recording` gained since `cursor` (which advances), as one JSON-able record; None if nothing.

    Safe while other threads append: each list is read up to a length taken once (a slice under the GIL)."""
    record: dict[str, Any] = {}
    spans = recording.spans[cursor.spans :]
    cursor.spans += len(spans)
    closed = [s for s in cursor.open_spans.values() if s.end_ns is not None]
    for span in closed:
        del cursor.open_spans[span.span_id]
    for span in spans:
        if span.end_ns is None:
            cursor.open_spans[span.span_id] = span
    if spans or closed:
        record["spans"] = [_span(s) for s in (*closed, *spans)]
    for name in ("tokens", "counters", "frames", "stacks", "samples"):
        items = getattr(recording, name)[getattr(cursor, name) :]
        setattr(cursor, name, getattr(cursor, name) + len(items))
        if items:
            record[name] = [_row(name, item) for item in items]
    if len(recording.threads) != cursor.threads:
        cursor.threads = len(recording.threads)
        record["threads"] = {str(k): v for k, v in list(recording.threads.items())}
    return record or None


def append(path: Path, record: dict[str, Any]) -> None:
    """One line at the end of the journal, flushed to the file system (not fsynced: a killed process loses
    nothing the kernel has taken; only a machine crash loses the page cache)."""
    line = json.dumps(record, separators=(",", ":"), default=str) + "\n"
    fd = os.open(path / JOURNAL_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read_journal(path: Path) -> Recording | None:
    """The recording the journal of run directory `path` holds; None when there is no journal."""
    file = path / JOURNAL_FILE
    if not file.is_file():
        return None
    recording = Recording()
    spans: dict[int, Span] = {}
    with file.open("rb") as lines:
        for line in lines:
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
                break  # the line the kill cut short, and anything after it
            if isinstance(record, dict) and not _replay(record, recording, spans):
                break
    recording.spans = sorted(spans.values(), key=lambda s: s.span_id)
    recording.__post_init__()
    return recording


def _replay(record: dict[str, Any], recording: Recording, spans: dict[int, Span]) -> bool:
    try:
        for row in record.get("spans", []):
            span_id, name, kind, start, end, parent, thread, attrs = row
            span = Span(span_id, name, kind, start, end, parent, thread, dict(attrs))
            spans[span.span_id] = span
        recording.tokens.extend(TokenEvent(*row) for row in record.get("tokens", []))
        recording.counters.extend(Counter(s, t, float(v)) for s, t, v in record.get("counters", []))
        recording.frames.extend(Frame(f, p, int(n)) for f, p, n in record.get("frames", []))
        recording.stacks.extend(tuple(stack) for stack in record.get("stacks", []))
        recording.samples.extend(StackSample(*row) for row in record.get("samples", []))
        recording.threads.update({int(k): str(v) for k, v in record.get("threads", {}).items()})
    except (TypeError, ValueError, AttributeError):  # includes a row of the wrong length
        return False  # a damaged record: keep what came before it
    return True


def _span(span: Span) -> list[Any]:
    return [
        span.span_id,
        span.name,
        span.kind,
        span.start_ns,
        span.end_ns,
        span.parent_id,
        span.thread_id,
        span.attrs,
    ]


def _row(name: str, item: Any) -> Any:
    if name == "tokens":
        return [item.request_id, item.t_ns, item.n_tokens, item.text]
    if name == "counters":
        return [item.series, item.t_ns, item.value]
    if name == "frames":
        return [item.function, item.file, item.line]
    if name == "stacks":
        return list(item)
    return [item.t_ns, item.thread_id, item.stack_id, item.duration_ns, item.count]
