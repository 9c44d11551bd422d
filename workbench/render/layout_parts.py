"""Small Bokeh pieces the panels share: a notice in place of an empty chart, and in-page label fitting."""

from __future__ import annotations

import html
import textwrap
from collections.abc import Iterable, Mapping
from typing import Any

from bokeh.models import ColumnDataSource, CustomJS, Plot
from bokeh.models.annotations import Title
from bokeh.models.widgets import Div

from workbench.render.labels import FIT_LABELS_JS, fit_labels

NOTICE_PX = 36
# What a legend above a chart may span: a run-clock chart's frame in an 828 px notebook column (the output's
# width less the chart's left and right borders), with room to spare.
LEGEND_WIDTH_PX = 560.0
LEGEND_GLYPH_PX = 34.0
LEGEND_CHAR_PX = 6.4
# A chart's title starts at its frame's left edge (130 px in for the run-clock charts) and, drawn on the
# canvas, never wraps by itself: longer ones are broken into lines here, at " · " where possible. About 6 px
# a character at 13 px bold.
TITLE_CHARS = 88
TITLE_LINE_PX = 16
SEPARATOR = " · "
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


def place_legend_above(fig: Any, ncols: int | None = None, width_px: float = LEGEND_WIDTH_PX) -> int:
    """Above the plot rather than inside it, where it would hide data; in as many columns as fit `width_px`
    (`ncols` at most). A legend is drawn on the canvas and never wraps by itself: one row wider than the
    output would widen the chart past it. Returns the legend's rows."""
    if not fig.legend:
        return 0
    legend = fig.legend[0]
    fig.center = [item for item in fig.center if item is not legend]
    legend.orientation = "horizontal"
    n = max(len(legend.items), 1)
    widest = max((legend_item_px(_item_label(item)) for item in legend.items), default=0.0)
    fit = max(1, int(width_px // widest)) if widest > 0 else n
    legend.ncols = min(n, fit, ncols or n)
    legend.label_text_font_size = "11px"
    legend.padding = 2
    legend.margin = 0
    fig.add_layout(legend, "above")
    return -(-n // int(legend.ncols))


def legend_item_px(label: str) -> float:
    """The width of one legend item at 11 px: the glyph, its gaps and the label."""
    return LEGEND_GLYPH_PX + LEGEND_CHAR_PX * len(label)


def _item_label(item: Any) -> str:
    label = item.label
    if isinstance(label, str):
        return label
    # A label from a data column (legend_group): the group's name, or a dict spec {"value": ...}.
    value = getattr(label, "value", None) or (label.get("value") if isinstance(label, dict) else None)
    return str(value or "")


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


def wrap_titles(parts: Iterable[Any], chars: int = TITLE_CHARS) -> None:
    """Break every chart title of `parts` longer than `chars` into lines, each chart taller by the lines
    added so its plot keeps its height."""
    for part in parts:
        for plot in part.select({"type": Plot}):
            titles = [plot.title, *(t for t in [*plot.above, *plot.below] if isinstance(t, Title))]
            added = sum(_wrap_title(t, chars) for t in titles if isinstance(t, Title))
            if added and plot.height:
                plot.height = int(plot.height) + TITLE_LINE_PX * added


def _wrap_title(title: Title, chars: int) -> int:
    """Wrap one title in place; the lines it gained."""
    text = str(title.text or "")
    if len(text) <= chars or "\n" in text:
        return 0
    lines = wrap_phrases(text, chars)
    title.text = "\n".join(lines)
    return len(lines) - 1


def wrap_phrases(text: str, chars: int) -> list[str]:
    """Lines of at most `chars`, broken between " · " phrases where they fit, else between words."""
    lines: list[str] = []
    for phrase in text.split(SEPARATOR):
        joined = f"{lines[-1]}{SEPARATOR}{phrase}" if lines else phrase
        if lines and len(joined) <= chars:
            lines[-1] = joined
        elif len(phrase) <= chars:
            lines.append(phrase)
        else:
            lines += textwrap.wrap(phrase, chars, break_long_words=True) or [""]
    return lines
