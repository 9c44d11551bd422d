"""A run's CPU samples in the speedscope file format (https://www.speedscope.app/file-format-schema.json).

One "sampled" profile per thread, weighted by the time each sample stands for (py-spy reports a stack only
when it changes, so samples are not of equal length). The run's frame table is the shared frame list and
its stacks are already root first, which is the order speedscope expects.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from workbench.model.events import Frame, StackSample
from workbench.model.recording import Recording
from workbench.model.run import Run

SCHEMA = "https://www.speedscope.app/file-format-schema.json"
EXPORTER = "fm-workbench"


def _frame(frame: Frame) -> dict[str, Any]:
    return {"name": frame.function, "file": frame.file, "line": frame.line}


def _busy_samples_by_thread(recording: Recording) -> dict[int, list[StackSample]]:
    """Non-idle samples per thread in time order; an idle sample (empty stack) ran none of our code."""
    by_thread: dict[int, list[StackSample]] = defaultdict(list)
    for sample in recording.samples:
        if recording.stacks[sample.stack_id]:
            by_thread[sample.thread_id].append(sample)
    return {thread: sorted(items, key=lambda s: s.t_ns) for thread, items in by_thread.items()}


def _profile(recording: Recording, thread_id: int, samples: list[StackSample]) -> dict[str, Any]:
    weights = [sample.duration_ns for sample in samples]
    # speedscope lays samples end to end and sizes the view by endValue - startValue; idle time is left
    # out, so the extent is the busy time, not the wall-clock window.
    return {
        "type": "sampled",
        "name": recording.thread_name(thread_id),
        "unit": "nanoseconds",
        "startValue": 0,
        "endValue": sum(weights),
        "samples": [list(recording.stacks[sample.stack_id]) for sample in samples],
        "weights": weights,
    }


def speedscope(run: Run) -> dict[str, Any]:
    """The run's CPU profile as a speedscope document; the busiest thread is the profile shown first."""
    recording = run.recording
    threads = _busy_samples_by_thread(recording)
    ranked = sorted(threads.items(), key=lambda item: -sum(s.duration_ns for s in item[1]))
    return {
        "$schema": SCHEMA,
        "shared": {"frames": [_frame(frame) for frame in recording.frames]},
        "profiles": [_profile(recording, thread_id, samples) for thread_id, samples in ranked],
        "name": run.name or run.id,
        "activeProfileIndex": 0,
        "exporter": EXPORTER,
    }


def write_speedscope(run: Run, path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    target.write_text(json.dumps(speedscope(run), separators=(",", ":")))
    return target
