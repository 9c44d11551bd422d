"""Another local process sampled during a run (`--attach PID`): its own stack samples, on the run clock.

Kept apart from the cell's samples (`Recording.samples`) so that the cell's CPU metrics, flame graph and
findings stay the cell's own; the dashboard draws each attached process in lanes of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from workbench.model.recording import Recording

SAMPLE_COLUMNS = ["t_ms", "duration_ms", "count", "thread", "function", "file", "line", "stack"]


@dataclass
class AttachedProcess:
    pid: int
    # "pid 1234 (python serve.py)": how the dashboard names its lanes
    label: str
    # Only samples, frames, stacks and threads are used; times are on the run clock.
    recording: Recording
    rate_hz: float | None = None

    @property
    def samples(self) -> pd.DataFrame:
        """One row per sample, as `Run.samples` has them (idle threads left out unless `--idle`)."""
        rec = self.recording
        rows = []
        for s in rec.samples:
            frames = rec.stack_frames(s.stack_id)
            leaf = frames[-1] if frames else None
            rows.append(
                [
                    s.t_ns / 1e6,
                    s.duration_ns / 1e6,
                    s.count,
                    rec.thread_name(s.thread_id),
                    leaf.function if leaf else "(idle)",
                    leaf.file if leaf else "",
                    leaf.line if leaf else 0,
                    ";".join(f.function for f in frames),
                ]
            )
        return pd.DataFrame(rows, columns=SAMPLE_COLUMNS)

    def __repr__(self) -> str:
        return f"AttachedProcess({self.label!r}, samples={sum(s.count for s in self.recording.samples)})"
