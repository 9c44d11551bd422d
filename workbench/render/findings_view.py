"""The findings panel's view-model: one row per finding, in the run's order (largest gain first), with the
text the panel shows and the places on the run clock and in the flame graph that a click highlights.

Strings here are plain text; the panel escapes them when it builds HTML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.model.finding import Evidence, Finding
from workbench.model.run import Run
from workbench.render.findings_text import evidence_line, pointer_text

SEVERITY_COLORS = {"high": "#c62828", "medium": "#e07b00", "low": "#6b6b6b"}
# A pointer at one instant still gets a band the eye can find: this share of the run, at least.
MIN_BAND_SHARE = 0.004
# Room left around the evidence when zooming to it, as a share of its extent, and at least this many ms.
ZOOM_MARGIN_SHARE = 0.15
ZOOM_MARGIN_MIN_MS = 1.0


@dataclass(frozen=True)
class PointerRow:
    type: str
    label: str
    start_ms: float | None
    end_ms: float | None
    text: str  # "label 12.0–30.5 ms", as the text form writes it


@dataclass(frozen=True)
class FindingRow:
    rank: int
    kind: str
    severity: str
    color: str
    title: str
    gain_ms: float
    gain_text: str
    evidence_text: str
    suggestion: str
    assumption: str
    pointers: list[PointerRow]
    # Function names of the pointers of type "frame": the flame graph frames to mark.
    functions: list[str]
    # Bands on the run-clock charts, one per pointer with a time, and the window that shows them all.
    bands: list[tuple[float, float]]
    zoom: tuple[float, float] | None

    @property
    def where_text(self) -> str:
        return "; ".join(p.text for p in self.pointers)


@dataclass(frozen=True)
class FindingsView:
    rows: list[FindingRow]
    cell_ms: float

    @property
    def empty(self) -> bool:
        return not self.rows

    @classmethod
    def from_run(cls, run: Run) -> FindingsView:
        cell_ms = cell_duration_ms(run)
        duration_ms = run.duration_ns / 1e6
        rows = [
            _row(rank, finding, cell_ms, duration_ms) for rank, finding in enumerate(run.findings, start=1)
        ]
        return cls(rows=rows, cell_ms=cell_ms)

    def columns(self) -> dict[str, list[Any]]:
        """The table's columns, one entry per finding."""
        return {
            "rank": [r.rank for r in self.rows],
            "severity": [r.severity for r in self.rows],
            "color": [r.color for r in self.rows],
            "title": [r.title for r in self.rows],
            "gain": [r.gain_text for r in self.rows],
            "where": [r.where_text for r in self.rows],
        }


def cell_duration_ms(run: Run) -> float:
    """The cell's wall time: the window the session recorded, else the whole run."""
    start, end = run.metrics.get("cell_start_ms"), run.metrics.get("cell_end_ms")
    if isinstance(start, int | float) and isinstance(end, int | float) and end > start:
        return float(end - start)
    return run.duration_ns / 1e6


def gain_text(gain_ms: float, cell_ms: float) -> str:
    if gain_ms <= 0:
        return "no time estimate"
    if cell_ms <= 0:
        return f"~{gain_ms:,.0f} ms"
    return f"~{gain_ms:,.0f} ms ({gain_ms / cell_ms:.0%} of the cell)"


def _row(rank: int, finding: Finding, cell_ms: float, duration_ms: float) -> FindingRow:
    bands = _bands(finding.pointers, duration_ms)
    return FindingRow(
        rank=rank,
        kind=finding.kind,
        severity=finding.severity,
        color=SEVERITY_COLORS[finding.severity],
        title=finding.title,
        gain_ms=finding.gain_ms,
        gain_text=gain_text(finding.gain_ms, cell_ms),
        evidence_text=evidence_line(finding),
        suggestion=finding.suggestion,
        assumption=finding.assumption,
        pointers=[_pointer_row(p) for p in finding.pointers],
        functions=_functions(finding.pointers),
        bands=bands,
        zoom=_zoom(bands, duration_ms),
    )


def _pointer_row(p: Evidence) -> PointerRow:
    return PointerRow(p.type, p.label, p.start_ms, p.end_ms, pointer_text(p.label, p.start_ms, p.end_ms))


def _functions(pointers: list[Evidence]) -> list[str]:
    # A frame pointer names its function in `ref`; rules that leave it out put the name in the label.
    names = [p.ref if isinstance(p.ref, str) and p.ref else p.label for p in pointers if p.type == "frame"]
    return list(dict.fromkeys(names))


def _bands(pointers: list[Evidence], duration_ms: float) -> list[tuple[float, float]]:
    min_width = max(duration_ms * MIN_BAND_SHARE, 1e-3)
    bands = []
    for p in pointers:
        if p.start_ms is None:
            continue
        start = p.start_ms
        end = p.end_ms if p.end_ms is not None and p.end_ms > start else start
        if end - start < min_width:
            middle = (start + end) / 2
            start, end = middle - min_width / 2, middle + min_width / 2
        bands.append((start, end))
    return bands


def _zoom(bands: list[tuple[float, float]], duration_ms: float) -> tuple[float, float] | None:
    if not bands:
        return None
    start, end = min(b[0] for b in bands), max(b[1] for b in bands)
    margin = max((end - start) * ZOOM_MARGIN_SHARE, ZOOM_MARGIN_MIN_MS)
    # The shared range is bounded to the run: keep the window inside it.
    upper = max(duration_ms, end)
    return max(start - margin, 0.0), min(end + margin, upper)
