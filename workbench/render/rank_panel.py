"""The rank panel drawn: the per-rank table (HTA's breakdown, waits at collectives) and the rank lanes."""

from __future__ import annotations

from typing import Any

from bokeh.layouts import column
from bokeh.models import ColumnDataSource, FactorRange, Range1d
from bokeh.plotting import figure

from workbench.model.run import Run
from workbench.render.rank_view import RankView
from workbench.render.tables import html_table, table_div

COLORS = {"compute": "#4c78a8", "communication": "#e45756", "memory": "#72b7b2"}
LANE_PX = 26
AXIS_PX = 60
HEADER = [
    "rank",
    "window ms",
    "busy ms",
    "idle ms",
    "compute ms",
    "non-compute ms",
    "comm ms",
    "comm/comp overlap",
    "kernels",
    "wait at collectives ms",
    "arrived last",
]


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.3f}"


class RankPanelRenderer:
    def __init__(self, x_range: Range1d | None = None) -> None:
        self.x_range = x_range

    def render(self, run: Run) -> Any | None:
        view = RankView.from_run(run)
        if view.empty:
            return None
        rows = [
            [
                str(r.rank),
                _ms(r.window_ms),
                _ms(r.busy_ms),
                _ms(r.idle_ms),
                _ms(r.compute_ms),
                _ms(r.non_compute_ms),
                _ms(r.communication_ms),
                "–" if r.overlap is None else f"{r.overlap:.1%}",
                f"{r.kernel_count:,}",
                _ms(r.wait_ms),
                "–" if r.last_count is None else f"{r.last_count:,}",
            ]
            for r in view.rows
        ]
        notes = [
            "window: first to last GPU event of the rank; busy, compute and non-compute as HTA defines them"
        ]
        if view.stragglers:
            notes.append(f"stragglers: {view.stragglers} (collectives matched by {view.method})")
        table = table_div(
            "Ranks", html_table(HEADER, rows, "wb-rank-table"), notes, len(rows), "rank_table", grow=True
        )
        return column(table, self._lanes(view), sizing_mode="stretch_width", name="rank_panel")

    def _lanes(self, view: RankView) -> Any:
        ranks = [f"rank {r.rank}" for r in view.rows]
        options: dict[str, Any] = {"x_range": self.x_range} if self.x_range is not None else {}
        plot = figure(
            height=LANE_PX * len(ranks) + AXIS_PX,
            sizing_mode="stretch_width",
            y_range=FactorRange(factors=list(reversed(ranks))),
            title="GPU work per rank (compute, communication, memory)",
            tools="xpan,xwheel_zoom,reset",
            name="rank_lanes",
            **options,
        )
        for kind, color in COLORS.items():
            keep = [i for i, k in enumerate(view.bars.get("kind", [])) if k == kind]
            source = ColumnDataSource({key: [values[i] for i in keep] for key, values in view.bars.items()})
            plot.hbar(
                y="rank",
                left="start_ms",
                right="end_ms",
                height=0.7,
                color=color,
                legend_label=kind,
                source=source,
            )
        plot.xaxis.axis_label = "ms on the run clock"
        plot.legend.location = "top_right"
        return plot
