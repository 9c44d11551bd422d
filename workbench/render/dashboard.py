"""The whole dashboard: header, findings, history sparklines, flame graph, timeline, torch ops and GPU
kernels, GPU telemetry, stages, tokens and LLM requests in one column.

Every chart on the run clock (timeline, op timeline, telemetry tracks, tokens/s, requests in flight, request
waterfall) shares one x range, so zooming one zooms the others. Panels about LLM requests appear only when
the run made some, the op timeline and GPU panel only when torch.profiler or NVML recorded something, the
stage table only when the cell's root span has spans under it, the history sparklines only when the run's
store holds earlier runs of its name, the findings panel only when a rule found something.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bokeh.layouts import column
from bokeh.models import Column

from workbench.model.run import Run
from workbench.render.attached_plot import AttachedFlameRenderer, AttachedLanesRenderer
from workbench.render.breakdown_plot import BreakdownRenderer
from workbench.render.findings_panel import FindingsPanelRenderer
from workbench.render.flame_plot import FlameRenderer
from workbench.render.gpu_panel import GpuPanelRenderer
from workbench.render.header import HeaderRenderer
from workbench.render.history_view import HistoryRenderer, HistoryView
from workbench.render.layout_parts import wrap_titles
from workbench.render.notes_plot import draw_note_bands, note_field, notes_list
from workbench.render.notes_view import NotesView
from workbench.render.ops_plot import OpsTimelineRenderer
from workbench.render.rank_panel import RankPanelRenderer
from workbench.render.server_panel import ServerPanelRenderer
from workbench.render.tables import ModelTableRenderer, StageTableRenderer
from workbench.render.timeline_plot import TimelineRenderer, run_clock_range
from workbench.render.timeline_view import TimelineView
from workbench.render.token_plot import RequestLatencyRenderer, TokenRateRenderer
from workbench.render.waterfall_plot import InFlightRenderer, WaterfallRenderer

# Space Bokeh puts around each child of a column, counted when sizing the notebook's iframe.
SPACING_PX = 10
PAGE_MARGIN_PX = 16


@dataclass(frozen=True)
class Dashboard:
    layout: Any
    height_px: int


class DashboardRenderer:
    def render(self, run: Run) -> Dashboard:
        # Read from the run's store before drawing: the other runs of its name, for the sparklines.
        history = HistoryView.from_run(run)
        cell_start = run.metrics.get("cell_start_ms")
        x_range = run_clock_range(
            TimelineView.from_run(run).duration_ms,
            float(cell_start) if isinstance(cell_start, int | float) else 0.0,
        )
        findings = FindingsPanelRenderer(x_range)
        flame = FlameRenderer().render(run)
        timeline = TimelineRenderer(x_range).render(run)
        ops = OpsTimelineRenderer(x_range).render(run)
        panel = findings.render(run)
        notes = NotesView.from_run(run)
        for chart in (timeline, ops):
            draw_note_bands(chart, notes)
        if panel is not None:
            # A click on a finding bands its evidence on the run-clock charts and outlines its frames.
            findings.marks.mark_flame(flame)
            findings.marks.draw_bands(timeline)
            findings.marks.draw_bands(ops)
        drawn = [
            HeaderRenderer().render(run),
            notes_list(notes),
            panel,
            HistoryRenderer().render(history),
            flame,
            AttachedFlameRenderer().render(run),  # --attach PID: each process's own flame graph and lanes
            timeline,
            note_field(run, timeline),
            AttachedLanesRenderer(x_range).render(run),
            ops,
            RankPanelRenderer(x_range).render(run),
            GpuPanelRenderer(x_range).render(run),
            StageTableRenderer().render(run),
            TokenRateRenderer(x_range).render(run),
            InFlightRenderer(x_range).render(run),
            WaterfallRenderer(x_range).render(run),
            ServerPanelRenderer(x_range).render(run),
            BreakdownRenderer().render(run),
            RequestLatencyRenderer().render(run),
            ModelTableRenderer().render(run),
        ]
        # A renderer with nothing to show for this run returns None and takes no room.
        parts = [part for part in drawn if part is not None]
        wrap_titles(parts)  # a canvas title never wraps: one wider than the output would widen its chart
        layout = column(*parts, sizing_mode="stretch_width", spacing=SPACING_PX, name="dashboard")
        height = sum(_height(p) for p in parts) + SPACING_PX * (len(parts) - 1) + PAGE_MARGIN_PX
        return Dashboard(layout=layout, height_px=height)


def _height(part: Any) -> int:
    if getattr(part, "height", None):
        return int(part.height) + _vertical_margin(part)
    if getattr(part, "min_height", None):  # a table that grows when its rows wrap: its one-line estimate
        return int(part.min_height) + _vertical_margin(part)
    if isinstance(part, Column):
        children = list(part.children)
        spacing = int(part.spacing or 0) if isinstance(part.spacing, int) else 0
        return sum(_height(child) for child in children) + spacing * max(len(children) - 1, 0)
    # A row is as tall as its tallest child.
    return max((_height(child) for child in getattr(part, "children", [])), default=0)


def _vertical_margin(part: Any) -> int:
    """Top plus bottom margin: Bokeh gives widgets such as a Div one (5 px each side), plots none."""
    margin = getattr(part, "margin", None)
    if margin is None:
        return 0
    if isinstance(margin, int):
        return 2 * margin
    # (vertical, horizontal) or (top, right, bottom, left)
    return 2 * int(margin[0]) if len(margin) == 2 else int(margin[0]) + int(margin[2])
