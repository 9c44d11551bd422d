"""Renderers: view-models built from a `Run`, drawn with Bokeh into a dashboard that renders offline.

`report_html` gives a standalone page; `notebook_bundle` a display bundle for Jupyter that also renders in
nbconvert HTML with no kernel and no network.
"""

from workbench.render.breakdown_view import BreakdownView
from workbench.render.dashboard import Dashboard, DashboardRenderer
from workbench.render.flame_view import FlameRect, FlameView
from workbench.render.html_output import notebook_bundle, report_html
from workbench.render.model_view import ModelTableView
from workbench.render.request_view import InFlightView, WaterfallView
from workbench.render.stage_view import StageView
from workbench.render.summary import SummaryView, summary_line, summary_text
from workbench.render.timeline_view import SpanBar, TimelineView, TokenPoint
from workbench.render.token_view import RateBins, RequestRow, TokenPanelView

__all__ = [
    "BreakdownView",
    "Dashboard",
    "DashboardRenderer",
    "FlameRect",
    "FlameView",
    "InFlightView",
    "ModelTableView",
    "RateBins",
    "RequestRow",
    "SpanBar",
    "StageView",
    "SummaryView",
    "TimelineView",
    "TokenPanelView",
    "TokenPoint",
    "WaterfallView",
    "notebook_bundle",
    "report_html",
    "summary_line",
    "summary_text",
]
