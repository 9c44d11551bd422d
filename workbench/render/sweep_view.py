"""The sweep page's view-model: one row per configuration, the axes' labels, the scatter's columns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.model.run import Run

AXIS_LABELS = {
    "output_tokens_per_s": "output tokens/s",
    "e2e_ms_p90": "E2E p90 (ms)",
    "runs_per_s": "cell runs/s (1 / wall s)",
    "wall_s": "wall (s)",
}
COLUMNS = [
    "label",
    "run_id",
    "wall_s",
    "output_tokens_per_s",
    "ttft_ms_p90",
    "e2e_ms_p90",
    "request_throughput_per_s",
    "pareto",
]


@dataclass
class SweepView:
    name: str
    run_id: str
    throughput: str
    latency: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_run(cls, run: Run) -> SweepView:
        sweep = run.metrics.get("sweep") or {}
        rows = [dict(r) for r in sweep.get("configurations") or [] if isinstance(r, dict)]
        return cls(
            run.name,
            run.id,
            str(sweep.get("throughput", "runs_per_s")),
            str(sweep.get("latency", "wall_s")),
            rows,
        )

    @property
    def x_label(self) -> str:
        return AXIS_LABELS.get(self.latency, self.latency)

    @property
    def y_label(self) -> str:
        return AXIS_LABELS.get(self.throughput, self.throughput)

    def points(self, pareto: bool) -> dict[str, list[Any]]:
        """Scatter columns (latency on x, throughput on y) of the points on (or off) the front."""
        rows = [
            r
            for r in self.rows
            if bool(r.get("pareto")) == pareto
            and r.get(self.throughput) is not None
            and r.get(self.latency) is not None
        ]
        return {
            "x": [float(r[self.latency]) for r in rows],
            "y": [float(r[self.throughput]) for r in rows],
            "label": [str(r.get("label", "")) for r in rows],
            "run_id": [str(r.get("run_id", "")) for r in rows],
        }

    def front_line(self) -> dict[str, list[float]]:
        """The front's points sorted by latency, for the line joining them."""
        front = self.points(True)
        pairs = sorted(zip(front["x"], front["y"], strict=True))
        return {"x": [p[0] for p in pairs], "y": [p[1] for p in pairs]}
