"""Runs whose kernel died while recording: telling them from live recordings, and rebuilding them.

While a cell is profiled its run directory holds a run.json with status "recording" and the recording
process (pid, the pid's start time, host), the journal (store/journal.py) and py-spy's own output files.
When that process is gone, the run is "crashed": it is rebuilt from the journal's spans, tokens and
counters, plus the samples py-spy wrote when it saw the kernel die, then saved whole like any other run.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
from pathlib import Path
from typing import Any

from workbench.analysis.findings import find_bottlenecks
from workbench.analysis.run_metrics import run_metrics
from workbench.collectors import pyspy
from workbench.model.recording import Recording
from workbench.model.run import Run
from workbench.model.serialize import meta_to_run, recording_to_events
from workbench.store.journal import JOURNAL_FILE, read_journal
from workbench.store.rundir import EVENTS_FILE, write_atomic, write_meta

# Spans and samples from the journal are on the run clock; anything past this is a damaged value.
_FAR_NS = 1 << 62


def this_process() -> dict[str, Any]:
    """What a run records about the process recording it (see `recorder_alive`)."""
    return {"pid": os.getpid(), "pid_start": _pid_start(os.getpid()), "host": socket.gethostname()}


def recorder_alive(recorder: object) -> bool:
    """Whether the process that wrote a "recording" run.json still runs. Another host's process cannot be
    checked and is taken as alive; a pid now held by another process (its start time differs) is not."""
    if not isinstance(recorder, dict):
        return False
    pid, host = recorder.get("pid"), recorder.get("host")
    if not isinstance(host, str):
        return False
    if host != socket.gethostname():
        return True
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process holds the pid: compare start times below
    except OSError:
        return False
    started = _pid_start(pid)
    return started is None or started == recorder.get("pid_start")


def rebuild(path: Path, meta: dict[str, Any]) -> Run:
    """The run a "recording" run directory holds so far: from its journal and py-spy's output."""
    recording = read_journal(path) or Recording()
    cell = next((s for s in recording.spans if s.kind == "cell" and s.parent_id is None), None)
    start = cell.start_ns if cell is not None else 0
    options = meta.get("options") if isinstance(meta.get("options"), dict) else {}
    main_thread = options.get("main_thread_id") if isinstance(options, dict) else None
    _, rate = pyspy.salvage(
        path, recording, (start, _FAR_NS), main_thread if isinstance(main_thread, int) else None
    )
    end = max([start, *_event_ends(recording)])
    for span in recording.spans:
        if span.end_ns is None:
            span.end_ns = end
            span.attrs["unfinished"] = True
    run = meta_to_run({**meta, "duration_ns": end}, recording)
    run.metrics = run_metrics(recording, (start, end), {}, cpu_rate_hz=rate)
    ignore = options.get("ignore_findings") if isinstance(options, dict) else None
    ignored = [k for k in ignore if isinstance(k, str)] if isinstance(ignore, list) else []
    # The rules read only the run's own data, so a crashed run gets its findings like any other; the
    # comparison with a baseline is left out (it needs the user's --baseline resolved at cell end).
    findings, _ = find_bottlenecks(run, None, ignored)
    run.metrics["findings"] = [f.to_dict() for f in findings]
    run.path = path
    return run


def finish_crashed(path: Path, run: Run) -> None:
    """Save a rebuilt crashed run whole (events, then run.json) and remove the journal and py-spy's files,
    so later readers load it like any other run. A read-only store keeps it as it is (rebuilt each time)."""
    events = json.dumps(recording_to_events(run.recording), separators=(",", ":")).encode()
    try:
        write_atomic(path / EVENTS_FILE, gzip.compress(events, compresslevel=5))
        write_meta(run, path)
    except OSError:
        return
    (path / JOURNAL_FILE).unlink(missing_ok=True)
    pyspy.remove_files(path)


def _event_ends(recording: Recording) -> list[int]:
    ends = [s.end_ns if s.end_ns is not None else s.start_ns for s in recording.spans]
    ends += [t.t_ns for t in recording.tokens]
    ends += [c.t_ns for c in recording.counters]
    ends += [s.t_ns + s.duration_ns for s in recording.samples]
    return [e for e in ends if isinstance(e, int) and 0 <= e < _FAR_NS]


def _pid_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux /proc); None where it cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None
