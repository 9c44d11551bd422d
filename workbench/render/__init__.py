"""Renderers: view-models built from a `Run`, drawn with Bokeh into a dashboard that renders offline.

`report_html` gives a standalone page; `notebook_bundle` a display bundle for Jupyter that also renders in
nbconvert HTML with no kernel and no network. The names below are imported on first use, so a light
submodule (e.g. `render.terminal` for the CLI) does not pull in Bokeh.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_EXPORTS = {
    "BreakdownView": "breakdown_view",
    "Dashboard": "dashboard",
    "DashboardRenderer": "dashboard",
    "FlameRect": "flame_view",
    "FlameView": "flame_view",
    "notebook_bundle": "html_output",
    "report_html": "html_output",
    "ModelTableView": "model_view",
    "InFlightView": "request_view",
    "WaterfallView": "request_view",
    "StageView": "stage_view",
    "SummaryView": "summary",
    "summary_line": "summary",
    "summary_text": "summary",
    "SpanBar": "timeline_view",
    "TimelineView": "timeline_view",
    "TokenPoint": "timeline_view",
    "RateBins": "token_view",
    "RequestRow": "token_view",
    "TokenPanelView": "token_view",
}

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench.render' has no attribute {name!r}")
    return getattr(importlib.import_module(f"workbench.render.{module}"), name)
