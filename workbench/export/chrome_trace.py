"""A run as a Chrome Trace Event Format document, for Perfetto, chrome://tracing and Speedscope.

Processes keep the tracks apart in the viewer: "Python (spans and tokens)" with one track per thread
that recorded spans, "CPU samples (py-spy)" with one track of nested function slices per sampled thread,
"Telemetry" for counters, and torch.profiler's host ops and one process per GPU (see `chrome_ops`).
Times are microseconds on the run clock (0 = run start).
"""

from __future__ import annotations

import gzip
import math
import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec

from workbench.export.chrome_ops import op_events
from workbench.model.events import Frame, Span, StackSample
from workbench.model.recording import Recording
from workbench.model.run import Run

Event = dict[str, Any]

PID_PYTHON = 1
PID_CPU = 2
PID_TELEMETRY = 3
PID_NOTES = 4
PROCESS_NAMES = {
    PID_PYTHON: "Python (spans and tokens)",
    PID_CPU: "CPU samples (py-spy)",
    PID_TELEMETRY: "Telemetry",
    PID_NOTES: "Notes",
}


class _Timeline:
    """Converts run-clock nanoseconds to trace microseconds, clamped to the run.

    A collector stopped after the run's duration was taken can stamp an event a hair past the end; clamping
    keeps the viewer's time axis the run's own.
    """

    def __init__(self, duration_ns: int) -> None:
        self.end_ns = max(duration_ns, 0)

    def clamp(self, t_ns: int) -> int:
        return min(max(t_ns, 0), self.end_ns)

    def us(self, t_ns: int) -> float:
        return self.clamp(t_ns) / 1e3


class _Tracks:
    """Small track ids (1, 2, ...) for one process's OS threads, in order of first use.

    pthread ids are 64-bit numbers that some viewers mangle; the real id stays in the thread_name args.
    """

    def __init__(self, pid: int, recording: Recording) -> None:
        self.pid = pid
        self._recording = recording
        self._tids: dict[int, int] = {}

    def tid(self, thread_id: int) -> int:
        return self._tids.setdefault(thread_id, len(self._tids) + 1)

    def metadata(self) -> list[Event]:
        events = []
        for thread_id, tid in self._tids.items():
            name = self._recording.thread_name(thread_id)
            events.append(_meta("thread_name", self.pid, tid, {"name": name, "thread_id": thread_id}))
            events.append(_meta("thread_sort_index", self.pid, tid, {"sort_index": tid}))
        return events


def _meta(name: str, pid: int, tid: int, args: dict[str, Any]) -> Event:
    return {"name": name, "ph": "M", "ts": 0, "pid": pid, "tid": tid, "args": args}


def _process_metadata(pid: int) -> list[Event]:
    return [
        _meta("process_name", pid, 0, {"name": PROCESS_NAMES[pid]}),
        _meta("process_sort_index", pid, 0, {"sort_index": pid}),
    ]


def _jsonable(value: Any) -> Any:
    """Span attributes as JSON that browsers parse: NaN/inf and foreign objects become strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return str(value)


def _span_events(run: Run, tracks: _Tracks, timeline: _Timeline) -> list[Event]:
    def end_ns(span: Span) -> int:
        return run.duration_ns if span.end_ns is None else span.end_ns

    events = []
    # Sorted by start (outer before inner on ties) so each thread's slices arrive properly nested.
    for span in sorted(run.recording.spans, key=lambda s: (s.start_ns, -end_ns(s))):
        start = timeline.clamp(span.start_ns)
        end = timeline.clamp(end_ns(span))
        args = {
            **_jsonable(span.attrs),
            "span_id": span.span_id,
            "parent_id": span.parent_id,
            "kind": span.kind,
        }
        events.append(
            {
                "name": span.name,
                "cat": span.kind,
                "ph": "X",
                "ts": start / 1e3,
                "dur": max(end - start, 0) / 1e3,
                "pid": tracks.pid,
                "tid": tracks.tid(span.thread_id),
                "args": args,
            }
        )
    return events


def _token_events(run: Run, tracks: _Tracks, timeline: _Timeline) -> list[Event]:
    # A token belongs on the thread of its request's span; an orphan arrival goes on the "thread 0" track.
    thread_of = {span.span_id: span.thread_id for span in run.recording.spans}
    return [
        {
            "name": "token",
            "cat": "token",
            "ph": "i",
            "s": "t",
            "ts": timeline.us(token.t_ns),
            "pid": tracks.pid,
            "tid": tracks.tid(thread_of.get(token.request_id, 0)),
            "args": {"request_id": token.request_id, "n_tokens": token.n_tokens},
        }
        for token in run.recording.tokens
    ]


def _counter_events(run: Run, timeline: _Timeline) -> list[Event]:
    # A NaN would make the whole file unparsable by JSON.parse, so such points are left out.
    return [
        {
            "name": point.series,
            "ph": "C",
            "ts": timeline.us(point.t_ns),
            "pid": PID_TELEMETRY,
            "tid": 0,
            "args": {"value": point.value},
        }
        for point in run.recording.counters
        if math.isfinite(point.value)
    ]


def _note_events(run: Run, timeline: _Timeline) -> list[Event]:
    """A note on a range is a slice on the Notes track; one at a time is an instant across the trace."""
    events: list[Event] = []
    for number, note in enumerate(run.annotations, start=1):
        if note.t_ns is None:
            continue
        event: Event = {
            "name": f"{number}. {note.text}",
            "cat": "note",
            "ts": timeline.us(note.t_ns),
            "pid": PID_NOTES,
            "tid": 1,
            "args": {"text": note.text, "author": note.author, "created": note.created},
        }
        if note.end_ns is None:
            event.update(ph="i", s="g")
        else:
            event.update(ph="X", dur=timeline.us(note.end_ns) - timeline.us(note.t_ns))
        events.append(event)
    return events


class _SliceBuilder:
    """Nested "X" slices for one sampled thread, one level per stack depth.

    A frame's slice stays open across consecutive, time-contiguous samples whose stacks agree from the root
    down to that frame, so a function that ran for 40 samples is one slice, not 40.
    """

    def __init__(self, pid: int, tid: int, timeline: _Timeline) -> None:
        self.pid = pid
        self.tid = tid
        self.timeline = timeline
        self.slices: list[Event] = []  # in opening order, so a parent precedes its children
        self._open: list[tuple[Frame, Event, int]] = []  # (frame, slice, start_ns), root first
        self._last_end: int | None = None

    def add(self, sample: StackSample, frames: list[Frame]) -> None:
        last_end = self._last_end
        keep = 0
        if last_end is not None and sample.t_ns == last_end:
            keep = _common_prefix([frame for frame, _, _ in self._open], frames)
        if last_end is not None:
            # min(): overlapping samples (bad input) still close before the next one opens.
            self._close_from(keep, min(last_end, sample.t_ns))
        for frame in frames[keep:]:
            self._open_frame(frame, sample.t_ns)
        self._last_end = sample.t_ns + sample.duration_ns

    def finish(self) -> list[Event]:
        if self._last_end is not None:
            self._close_from(0, self._last_end)
        return self.slices

    def _open_frame(self, frame: Frame, start_ns: int) -> None:
        event: Event = {
            "name": frame.function,
            "cat": "cpu",
            "ph": "X",
            "ts": self.timeline.us(start_ns),
            "dur": 0.0,
            "pid": self.pid,
            "tid": self.tid,
            "args": {"file": frame.file, "line": frame.line},
        }
        self.slices.append(event)
        self._open.append((frame, event, start_ns))

    def _close_from(self, depth: int, end_ns: int) -> None:
        for _, event, start_ns in self._open[depth:]:
            start = self.timeline.clamp(start_ns)
            event["dur"] = max(self.timeline.clamp(end_ns) - start, 0) / 1e3
        del self._open[depth:]


def _common_prefix(a: list[Frame], b: list[Frame]) -> int:
    n = 0
    while n < len(a) and n < len(b) and a[n] == b[n]:
        n += 1
    return n


def _samples_by_thread(samples: Iterable[StackSample]) -> dict[int, list[StackSample]]:
    by_thread: dict[int, list[StackSample]] = defaultdict(list)
    for sample in samples:
        by_thread[sample.thread_id].append(sample)
    return {thread: sorted(items, key=lambda s: s.t_ns) for thread, items in by_thread.items()}


def _sample_events(recording: Recording, tracks: _Tracks, timeline: _Timeline) -> list[Event]:
    events: list[Event] = []
    threads = _samples_by_thread(recording.samples)
    for thread_id, samples in sorted(threads.items(), key=lambda item: item[1][0].t_ns):
        builder = _SliceBuilder(tracks.pid, tracks.tid(thread_id), timeline)
        for sample in samples:
            builder.add(sample, recording.stack_frames(sample.stack_id))
        events.extend(builder.finish())
    return events


def chrome_trace(run: Run) -> dict[str, Any]:
    """The run as a JSON-object-format trace: {"traceEvents": [...], "displayTimeUnit": "ms", "otherData"}."""
    timeline = _Timeline(run.duration_ns)
    python = _Tracks(PID_PYTHON, run.recording)
    cpu = _Tracks(PID_CPU, run.recording)
    body = _span_events(run, python, timeline) + _token_events(run, python, timeline)
    samples = _sample_events(run.recording, cpu, timeline)
    counters = _counter_events(run, timeline)
    ops = [] if run.recording.ops is None else op_events(run.recording.ops, timeline.end_ns)
    notes = _note_events(run, timeline)
    metadata = _process_metadata(PID_PYTHON) + python.metadata()
    if run.recording.samples:
        metadata += _process_metadata(PID_CPU) + cpu.metadata()
    if counters:
        metadata += _process_metadata(PID_TELEMETRY)
    if notes:
        metadata += _process_metadata(PID_NOTES)
    # Notes on the whole run have no time: they travel in the trace's metadata.
    run_notes = [n.text for n in run.annotations if n.t_ns is None]
    return {
        "traceEvents": metadata + body + samples + counters + ops + notes,
        "displayTimeUnit": "ms",
        "otherData": {
            "run_id": run.id,
            "run_name": run.name,
            "created": run.created,
            **({"notes": run_notes} if run_notes else {}),
        },
    }


def write_chrome_trace(run: Run, path: str | os.PathLike[str]) -> Path:
    """Write the trace as JSON (gzipped when `path` ends in .gz, which Perfetto also opens)."""
    target = Path(path)
    # msgspec writes a million-event trace several times faster than json.dumps (kernel traces are big).
    data = msgspec.json.encode(chrome_trace(run))
    target.write_bytes(gzip.compress(data) if target.suffix == ".gz" else data)
    return target
