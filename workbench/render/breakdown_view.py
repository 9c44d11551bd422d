"""The communication breakdown's view-model: where each LLM request's time went, phases stacked from 0.

Per request the phases are `analysis.breakdown.request_breakdown`'s, stacked in time order (queue, connect,
headers, first token, decode, tail); a phase that was not observed is left out of the stack and named in
the hover. `parse` happens during decode, so it is a bar of its own beside the stack. The mean per phase
is the run's (`metrics["tokens"]["breakdown_ms"]`, successful requests only).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from workbench.analysis.breakdown import request_breakdown
from workbench.analysis.per_request import all_request_metrics
from workbench.model.run import Run
from workbench.render.palette import PHASE_TITLES, phase_color
from workbench.render.request_view import MAX_REQUESTS
from workbench.render.run_metrics import token_metrics_of

STACKED = ("queue", "connect", "headers", "first_token", "decode", "tail")
PHASES = (*STACKED, "parse")


@dataclass(frozen=True)
class BreakdownBar:
    request_id: int
    label: str
    phase: str
    phase_title: str
    left_ms: float
    right_ms: float
    duration_ms: float
    color: str
    failed: bool
    not_observed: str


@dataclass(frozen=True)
class PhaseMean:
    phase: str
    title: str
    mean_ms: float | None
    color: str

    @property
    def legend(self) -> str:
        mean = "n/a" if self.mean_ms is None else f"{self.mean_ms:,.1f} ms"
        return f"{self.title} · mean {mean}"


@dataclass(frozen=True)
class BreakdownView:
    labels: list[str]
    bars: list[BreakdownBar]
    parse: list[BreakdownBar]
    means: list[PhaseMean]
    total_requests: int

    @property
    def empty(self) -> bool:
        return not self.labels

    @property
    def capped(self) -> bool:
        return self.total_requests > len(self.labels)

    @classmethod
    def from_run(cls, run: Run, max_requests: int = MAX_REQUESTS) -> BreakdownView:
        rec = run.recording
        spans = {s.span_id: s for s in rec.spans if s.kind == "llm"}
        metrics = all_request_metrics(rec)
        view = cls([], [], [], phase_means(run), total_requests=len(metrics))
        for m in metrics[:max_requests]:
            label = f"{m.name} #{m.request_id}" + (" · failed" if m.failed else "")
            phases = request_breakdown(spans[m.request_id], m)
            stacked, parse = stack(m.request_id, label, m.failed, phases)
            view.labels.append(label)
            view.bars.extend(stacked)
            view.parse.extend(parse)
        return view

    def bar_columns(self, phase: str) -> dict[str, list[Any]]:
        rows = self.parse if phase == "parse" else [b for b in self.bars if b.phase == phase]
        return {f.name: [getattr(b, f.name) for b in rows] for f in fields(BreakdownBar)}

    def mean_of(self, phase: str) -> PhaseMean:
        return next(m for m in self.means if m.phase == phase)


def stack(
    request_id: int, label: str, failed: bool, phases: dict[str, float | None]
) -> tuple[list[BreakdownBar], list[BreakdownBar]]:
    """The stacked bars of one request, from 0 in time order, and its parse bar (if parse was measured)."""
    missing = ", ".join(PHASE_TITLES[p] for p in STACKED if phases.get(f"{p}_ms") is None) or "none"

    def bar(phase: str, left: float, duration: float) -> BreakdownBar:
        return BreakdownBar(
            request_id=request_id,
            label=label,
            phase=phase,
            phase_title=PHASE_TITLES[phase],
            left_ms=left,
            right_ms=left + duration,
            duration_ms=duration,
            color=phase_color(phase),
            failed=failed,
            not_observed=missing,
        )

    out: list[BreakdownBar] = []
    cursor = 0.0
    for phase in STACKED:
        duration = phases.get(f"{phase}_ms")
        if duration is None:
            continue
        out.append(bar(phase, cursor, duration))
        cursor += duration
    parse = phases.get("parse_ms")
    return out, [] if parse is None else [bar("parse", 0.0, parse)]


def phase_means(run: Run) -> list[PhaseMean]:
    summary = (token_metrics_of(run) or {}).get("breakdown_ms") or {}
    means = []
    for phase in PHASES:
        mean = (summary.get(f"{phase}_ms") or {}).get("mean")
        means.append(
            PhaseMean(phase, PHASE_TITLES[phase], None if mean is None else float(mean), phase_color(phase))
        )
    return means
