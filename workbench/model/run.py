"""A `Run`: one profiled cell or block, its events on one clock, its metadata and derived metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.model.attached import AttachedProcess
from workbench.model.events import Annotation, CollectorStatus
from workbench.model.finding import Finding
from workbench.model.ops import OpTable
from workbench.model.recording import Recording

SCHEMA_VERSION = 1

# What state a saved run is in (run.json's "status"; a run.json without one is complete):
#   complete    the cell ended and the run was saved and analysed (`error` says if the cell raised);
#   unanalysed  the run was saved whole but its analysis was cut short (an interrupt, an analysis bug):
#               events are all there, metrics and findings may be missing; `status_detail` says why;
#   recording   the cell is still running in a live kernel (the run directory holds its journal);
#   crashed     the kernel died while recording (kill -9, a forced restart, out of memory): the run is
#               rebuilt from its journal and py-spy's own output, losing at most the last second or two.
RUN_STATUSES = ("complete", "unanalysed", "recording", "crashed")


@dataclass
class Run:
    id: str
    name: str
    created: str
    duration_ns: int
    origin_wall_s: float
    cell_source: str = ""
    environment: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    collectors: list[CollectorStatus] = field(default_factory=list)
    recording: Recording = field(default_factory=Recording)
    metrics: dict[str, Any] = field(default_factory=dict)
    annotations: list[Annotation] = field(default_factory=list)
    error: str | None = None
    # A sweep's configuration run names its sweep run here.
    parent: str | None = None
    status: str = "complete"
    status_detail: str | None = None
    # The process recording the run while its status is "recording" (pid, its start time, host): how a
    # reader tells a live recording from a crashed one.
    recorder: dict[str, Any] | None = None
    path: Path | None = field(default=None, compare=False)

    @property
    def wall_s(self) -> float:
        """The cell's own wall time; the run clock also covers the collectors' start before it."""
        measured = self.metrics.get("wall_s")
        return float(measured) if isinstance(measured, int | float) else self.duration_ns / 1e9

    @property
    def last_event_ns(self) -> int:
        """Where the run clock's charts end: the run's end, or a token that arrived after it."""
        return max([self.duration_ns, *(t.t_ns for t in self.recording.tokens)])

    @property
    def spans(self) -> pd.DataFrame:
        rows = [
            {
                "span_id": s.span_id,
                "name": s.name,
                "kind": s.kind,
                "start_ms": s.start_ns / 1e6,
                "end_ms": None if s.end_ns is None else s.end_ns / 1e6,
                "duration_ms": s.duration_ns / 1e6,
                "parent_id": s.parent_id,
                "thread": self.recording.thread_name(s.thread_id),
                **{f"attr.{key}": value for key, value in s.attrs.items()},
            }
            for s in self.recording.spans
        ]
        columns = ["span_id", "name", "kind", "start_ms", "end_ms", "duration_ms", "parent_id", "thread"]
        return pd.DataFrame(rows, columns=None if rows else columns)

    @property
    def findings(self) -> list[Finding]:
        """Bottlenecks found in this run, largest estimated gain first (see `workbench.analysis.findings`)."""
        return [Finding.from_dict(f) for f in self.metrics.get("findings") or [] if isinstance(f, dict)]

    @property
    def findings_table(self) -> pd.DataFrame:
        """`findings` as a DataFrame: kind, severity, title, gain_ms, assumption, suggestion, evidence."""
        columns = ["kind", "severity", "title", "gain_ms", "assumption", "suggestion", "evidence"]
        rows = [{c: getattr(f, c) for c in columns} for f in self.findings]
        return pd.DataFrame(rows, columns=columns)

    @property
    def ops(self) -> pd.DataFrame:
        """torch.profiler's CPU ops and GPU kernels, copies and runtime calls (empty when not traced)."""
        table = self.recording.ops
        return OpTable.empty().frame() if table is None else table.frame()

    @property
    def requests(self) -> pd.DataFrame:
        """One row per LLM request: TTFT, TPOT, E2E, tokens, the communication breakdown (from metrics)."""
        tokens = self.metrics.get("tokens") or {}
        return pd.DataFrame(tokens.get("per_request") or [])

    @property
    def tokens(self) -> pd.DataFrame:
        names = {s.span_id: s.name for s in self.recording.spans}
        rows = [
            {
                "request_id": t.request_id,
                "request": names.get(t.request_id, ""),
                "t_ms": t.t_ns / 1e6,
                "n_tokens": t.n_tokens,
                "text": t.text,
            }
            for t in self.recording.tokens
        ]
        return pd.DataFrame(rows, columns=["request_id", "request", "t_ms", "n_tokens", "text"])

    @property
    def attached(self) -> list[AttachedProcess]:
        """Other local processes sampled during the run (`--attach PID`): each has `pid`, `label` and its
        own `samples` table, apart from the cell's own CPU profile."""
        return self.recording.attached

    @property
    def telemetry(self) -> pd.DataFrame:
        """Every telemetry counter on the dashboard's axis (ms since the run started): GPU (`gpu0.util_pct`,
        `cuda0.allocated_bytes`) and scraped servers (`server0.requests_waiting`; `metrics["server"]`
        names the raw metric of each)."""
        rows = [(c.series, c.t_ns / 1e6, c.value) for c in self.recording.counters]
        frame = pd.DataFrame(rows, columns=["series", "t_ms", "value"])
        return frame.sort_values(["series", "t_ms"], kind="stable", ignore_index=True)

    @property
    def samples(self) -> pd.DataFrame:
        rec = self.recording
        rows = []
        for s in rec.samples:
            frames = rec.stack_frames(s.stack_id)
            leaf = frames[-1] if frames else None
            rows.append(
                {
                    "t_ms": s.t_ns / 1e6,
                    "duration_ms": s.duration_ns / 1e6,
                    "count": s.count,
                    "thread": rec.thread_name(s.thread_id),
                    "function": leaf.function if leaf else "(idle)",
                    "file": leaf.file if leaf else "",
                    "line": leaf.line if leaf else 0,
                    "stack": ";".join(f.function for f in frames),
                }
            )
        columns = ["t_ms", "duration_ms", "count", "thread", "function", "file", "line", "stack"]
        return pd.DataFrame(rows, columns=columns)

    def __repr__(self) -> str:
        return f"Run(id={self.id!r}, name={self.name!r}, wall_s={self.wall_s:.3f}, path={str(self.path)!r})"
