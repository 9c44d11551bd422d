"""Small Bokeh pieces the panels share: a notice in place of an empty chart, and in-page label fitting."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from bokeh.models import ColumnDataSource, CustomJS
from bokeh.models.widgets import Div

from workbench.render.labels import FIT_LABELS_JS, fit_labels

NOTICE_PX = 36
NOTICE_STYLE = "color: #555; font: 13px sans-serif; padding: 8px 0"


def data_source(data: Mapping[str, Any], name: str | None = None) -> ColumnDataSource:
    # Bokeh's stubs want one exact dict type; the view-models hand over plain column lists.
    columns: dict[str, Any] = dict(data)
    return ColumnDataSource(data=columns, name=name)


def notice(text: str) -> Any:
    return Div(
        text=f'<div style="{NOTICE_STYLE}">{html.escape(text)}</div>',
        height=NOTICE_PX,
        sizing_mode="stretch_width",
    )


def attach_label_fitting(fig: Any, bars: ColumnDataSource, labels: ColumnDataSource) -> None:
    """Recompute which bars carry a label, and how much of it fits, whenever the view or the data changes."""
    fit = CustomJS(
        args={"bars": bars, "labels": labels, "x_range": fig.x_range, "plot": fig}, code=FIT_LABELS_JS
    )
    fig.x_range.js_on_change("start", fit)
    fig.x_range.js_on_change("end", fit)
    fig.js_on_change("inner_width", fit)
    bars.js_on_change("data", fit)


def place_legend_above(fig: Any, ncols: int | None = None) -> None:
    """Above the plot rather than inside it, where it would hide data; `ncols` items a row, else one row."""
    if not fig.legend:
        return
    legend = fig.legend[0]
    fig.center = [item for item in fig.center if item is not legend]
    legend.orientation = "horizontal"
    if ncols is not None:
        legend.ncols = ncols
    legend.label_text_font_size = "11px"
    legend.padding = 2
    legend.margin = 0
    fig.add_layout(legend, "above")


def draw_bar_labels(
    fig: Any, data: Mapping[str, Any], bars: ColumnDataSource, name: str, font_size: str = "11px"
) -> None:
    """Labels inside horizontal bars (x0, x1, y, label), refitted in the browser on zoom."""
    start, end = fig.x_range.start, fig.x_range.end
    fitted = fit_labels(data["x0"], data["x1"], data["y"], data["label"], view=(start, end))
    labels = data_source(fitted.columns(), name=name)
    fig.text(
        x="x",
        y="y",
        text="text",
        source=labels,
        x_offset=3,
        text_baseline="middle",
        text_font_size=font_size,
        text_color="#111",
    )
    attach_label_fitting(fig, bars, labels)
