"""The critical path and the stage table: which spans decided when the cell ended, and time per kind.

From `metrics["stages"]` (`analysis.critical_path.stage_metrics`), recomputed from the recording for a run
saved without it. Times are milliseconds on the run clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.model.run import Run
from workbench.render.palette import span_kind_color
from workbench.render.run_metrics import stage_metrics_of


@dataclass(frozen=True)
class PathSegment:
    span_id: int
    kind: str
    name: str
    start_ms: float
    end_ms: float
    duration_ms: float
    color: str


@dataclass(frozen=True)
class StageRow:
    kind: str
    count: int
    wall_ms: float
    wall_share: float | None
    critical_ms: float
    critical_share: float | None
    color: str


@dataclass(frozen=True)
class StageView:
    segments: list[PathSegment]
    path_span_ids: frozenset[int]
    rows: list[StageRow]
    total_ms: float
    saving_ms: float
    parallel_calls: int
    assumption: str

    @property
    def has_stages(self) -> bool:
        """True when the cell's root has spans under it: a path through one span says nothing."""
        return sum(r.count for r in self.rows) > 1

    @classmethod
    def from_run(cls, run: Run) -> StageView:
        stages = stage_metrics_of(run)
        path = stages.get("critical_path") or {}
        segments = [_segment(s) for s in path.get("segments") or []]
        parents = {s.span_id: s.parent_id for s in run.recording.spans}
        per_kind = stages.get("per_kind") or {}
        rows = [_row(kind, values) for kind, values in per_kind.items()]
        rows.sort(key=lambda r: (-r.critical_ms, -r.wall_ms, r.kind))
        parallel = stages.get("parallelizable") or {}
        groups = [g for g in parallel.get("groups") or [] if (g.get("saving_ms") or 0) > 0]
        return cls(
            segments=segments,
            path_span_ids=on_path({s.span_id for s in segments}, parents, path.get("root_id")),
            rows=rows,
            total_ms=float(path.get("total_ms") or 0.0),
            saving_ms=float(parallel.get("estimated_saving_ms") or 0.0),
            parallel_calls=sum(int(g.get("calls") or len(g.get("span_ids") or [])) for g in groups),
            # The analysis words it as a note on its own ("estimate: ..."); here it follows "estimated:".
            assumption=str(parallel.get("assumption") or "").removeprefix("estimate: "),
        )

    def parallel_sentence(self) -> str | None:
        if self.saving_ms <= 0:
            return None
        return (
            f"estimated: {self.saving_ms:,.1f} ms could be saved if {self.parallel_calls} independent "
            f"sequential LLM calls ran concurrently — {self.assumption}"
        )

    def per_kind_phrase(self) -> str:
        parts = [
            f"{r.kind} {r.critical_ms:,.1f} ms" + (f" ({r.critical_share:.0%})" if r.critical_share else "")
            for r in self.rows
            if r.critical_ms > 0
        ]
        return ", ".join(parts)


def on_path(
    segment_span_ids: set[int], parents: dict[int, int | None], root_id: int | None
) -> frozenset[int]:
    """The spans the path goes through: those with time of their own on it, and their ancestors to the root.

    Every span the walk enters covers a non-empty interval that its own or its descendants' segments fill,
    so the spans on the path are exactly the segments' spans and everything above them.
    """
    out: set[int] = set()
    for span_id in segment_span_ids:
        current: int | None = span_id
        while current is not None and current not in out:
            out.add(current)
            current = None if current == root_id else parents.get(current)
    return frozenset(out)


def _segment(row: dict[str, Any]) -> PathSegment:
    kind = str(row.get("kind", ""))
    return PathSegment(
        span_id=int(row["span_id"]),
        kind=kind,
        name=str(row.get("name", "")),
        start_ms=float(row["start_ms"]),
        end_ms=float(row["end_ms"]),
        duration_ms=float(row.get("duration_ms", row["end_ms"] - row["start_ms"])),
        color=span_kind_color(kind),
    )


def _row(kind: str, values: dict[str, Any]) -> StageRow:
    def share(key: str) -> float | None:
        value = values.get(key)
        return None if value is None else float(value)

    return StageRow(
        kind=kind,
        count=int(values.get("count") or 0),
        wall_ms=float(values.get("wall_ms") or 0.0),
        wall_share=share("wall_share"),
        critical_ms=float(values.get("critical_ms") or 0.0),
        critical_share=share("critical_share"),
        color=span_kind_color(kind),
    )
