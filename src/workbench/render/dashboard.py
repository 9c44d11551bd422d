"""The whole dashboard: header, flame graph, timeline and token panel in one column.

The timeline and the tokens/s chart share one x range on the run clock, so zooming one zooms the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bokeh.layouts import column

from workbench.model.run import Run
from workbench.render.flame_plot import FlameRenderer
from workbench.render.header import HeaderRenderer
from workbench.render.timeline_plot import TimelineRenderer, run_clock_range
from workbench.render.timeline_view import TimelineView
from workbench.render.token_plot import RequestLatencyRenderer, TokenRateRenderer

# Space Bokeh puts around each child of a column, counted when sizing the notebook's iframe.
SPACING_PX = 10
PAGE_MARGIN_PX = 16


@dataclass(frozen=True)
class Dashboard:
    layout: Any
    height_px: int


class DashboardRenderer:
    def render(self, run: Run) -> Dashboard:
        x_range = run_clock_range(TimelineView.from_run(run).duration_ms)
        parts = [
            HeaderRenderer().render(run),
            FlameRenderer().render(run),
            TimelineRenderer(x_range).render(run),
            TokenRateRenderer(x_range).render(run),
            RequestLatencyRenderer().render(run),
        ]
        layout = column(*parts, sizing_mode="stretch_width", spacing=SPACING_PX, name="dashboard")
        height = sum(_height(p) for p in parts) + SPACING_PX * (len(parts) - 1) + PAGE_MARGIN_PX
        return Dashboard(layout=layout, height_px=height)


def _height(part: Any) -> int:
    if getattr(part, "height", None):
        return int(part.height)
    # A row is as tall as its tallest child.
    return max((_height(child) for child in getattr(part, "children", [])), default=0)
