"""Draws the findings panel: a clickable table of findings and the details of the one selected.

A click must work in a saved report with no kernel, so it is all CustomJS: it zooms the shared run-clock
range to the finding's evidence, fills one shared band source that the span and op timelines draw as
translucent strips, and names the finding's functions in a source the flame graph outlines its frames from.
Every string from the run is escaped here: the table's cells are text, the details are HTML built in Python.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

from bokeh.layouts import column
from bokeh.models import ColumnDataSource, CustomJS, InlineStyleSheet, Range1d
from bokeh.models.widgets import Div
from bokeh.models.widgets.tables import DataTable, StringFormatter, TableColumn
from bokeh.plotting import figure

from workbench.model.run import Run
from workbench.render.findings_view import FindingRow, FindingsView
from workbench.render.layout_parts import data_source

TITLE_PX = 24
TABLE_HEADER_PX = 25
# Two lines a row: in a narrow output (an 828 px notebook column) a title or its evidence wraps in its cell
# instead of being cut at the column's edge.
TABLE_ROW_PX = 36
CELL_CSS = (
    ".slick-cell { white-space: normal; overflow-wrap: break-word; line-height: 15px; padding-top: 2px; }"
    ".slick-header-column { white-space: nowrap; }"
)
# Past this many findings the table scrolls instead of growing: the iframe's height is fixed in advance.
MAX_VISIBLE_ROWS = 8
DETAIL_PX = 124
BAND_FILL = "#ffcc33"
BAND_LINE = "#e07b00"
FRAME_MARK = "#c62828"
HINT = (
    "Click a finding to zoom the timeline to its evidence (shaded), outline its functions in the flame "
    "graph, and see what to try."
)

# Runs when a row is clicked; the rows' columns carry everything it needs, precomputed by the view-model.
SELECT_JS = """
const i = rows.selected.indices[0];
const d = rows.data;
if (i === undefined) {
  bands.data = {x0: [], x1: []};
  frames.data = {function: []};
  detail.text = hint;
  return;
}
bands.data = {x0: Array.from(d.band_x0[i]), x1: Array.from(d.band_x1[i])};
frames.data = {function: Array.from(d.functions[i])};
detail.text = d.detail[i];
const start = d.zoom_start[i], end = d.zoom_end[i];
if (Number.isFinite(start) && Number.isFinite(end)) {
  x_range.setv({start: start, end: end});
}
"""

# Outlines the flame frames of the selected finding's functions; runs again when the flame graph swaps
# its rectangles for finer detail, so the outline follows the frames actually drawn.
MARK_FRAMES_JS = """
const want = new Set(frames.data.function);
const d = rects.data;
const out = {x0: [], x1: [], top: [], bottom: [], function: []};
if (want.size > 0) {
  for (let i = 0; i < d.function.length; i++) {
    if (want.has(d.function[i])) {
      out.x0.push(d.x0[i]); out.x1.push(d.x1[i]);
      out.top.push(d.top[i]); out.bottom.push(d.bottom[i]);
      out.function.push(d.function[i]);
    }
  }
}
marks.data = out;
"""


@dataclass
class FindingMarks:
    """The sources a click fills and the charts draw: time bands, and the functions to outline."""

    bands: ColumnDataSource = field(
        default_factory=lambda: data_source({"x0": [], "x1": []}, name="finding_bands")
    )
    frames: ColumnDataSource = field(
        default_factory=lambda: data_source({"function": []}, name="finding_frames")
    )

    def draw_bands(self, fig: Any) -> None:
        """Translucent strips over the whole height of a run-clock chart, above its bars."""
        if not isinstance(fig, figure):
            return
        fig.vstrip(
            x0="x0",
            x1="x1",
            source=self.bands,
            fill_color=BAND_FILL,
            fill_alpha=0.25,
            line_color=BAND_LINE,
            line_alpha=0.9,
            line_width=1.5,
            name=f"{fig.name}_finding_band",
        )

    def mark_flame(self, fig: Any) -> None:
        """Outline, in the flame graph, the frames whose function the selected finding points at."""
        rects = fig.select_one({"name": "flame_rects"}) if isinstance(fig, figure) else None
        if rects is None:
            return
        marks = data_source(
            {"x0": [], "x1": [], "top": [], "bottom": [], "function": []}, name="flame_finding_marks"
        )
        fig.quad(
            left="x0",
            right="x1",
            top="top",
            bottom="bottom",
            source=marks,
            fill_alpha=0.0,
            line_color=FRAME_MARK,
            line_width=3,
            name="flame_finding_outline",
        )
        mark = CustomJS(args={"frames": self.frames, "rects": rects, "marks": marks}, code=MARK_FRAMES_JS)
        self.frames.js_on_change("data", mark)
        rects.js_on_change("data", mark)


class FindingsPanelRenderer:
    def __init__(self, x_range: Range1d | None = None, marks: FindingMarks | None = None) -> None:
        self.x_range = x_range
        self.marks = marks if marks is not None else FindingMarks()

    def render(self, run: Run) -> Any | None:
        view = FindingsView.from_run(run)
        if view.empty:
            return None
        rows = data_source(_row_data(view), name="findings_rows")
        table = _table(rows, len(view.rows))
        detail = Div(
            text=_detail_box(_e(HINT)), height=DETAIL_PX, sizing_mode="stretch_width", name="findings_detail"
        )
        x_range = self.x_range if self.x_range is not None else Range1d(start=0.0, end=1.0)
        select = CustomJS(
            args={
                "rows": rows,
                "bands": self.marks.bands,
                "frames": self.marks.frames,
                "detail": detail,
                "x_range": x_range,
                "hint": _detail_box(_e(HINT)),
            },
            code=SELECT_JS,
        )
        rows.selected.js_on_change("indices", select)
        title = Div(text=_title(view), height=TITLE_PX, sizing_mode="stretch_width", name="findings_title")
        return column(title, table, detail, sizing_mode="stretch_width", spacing=0, name="findings_panel")


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _row_data(view: FindingsView) -> dict[str, list[Any]]:
    data = view.columns()
    data["band_x0"] = [[b[0] for b in r.bands] for r in view.rows]
    data["band_x1"] = [[b[1] for b in r.bands] for r in view.rows]
    data["functions"] = [list(r.functions) for r in view.rows]
    data["zoom_start"] = [r.zoom[0] if r.zoom else math.nan for r in view.rows]
    data["zoom_end"] = [r.zoom[1] if r.zoom else math.nan for r in view.rows]
    data["detail"] = [_detail_box(detail_html(r)) for r in view.rows]
    return data


def _table(rows: ColumnDataSource, n: int) -> Any:
    # StringFormatter writes each cell as text (never markup); the severity is coloured from its row.
    columns = [
        # Widths are proportions: the columns share the table's width (autosize_mode force_fit).
        TableColumn(field="rank", title="#", width=24),
        TableColumn(
            field="severity",
            title="severity",
            width=76,
            formatter=StringFormatter(text_color="color", font_style="bold"),
        ),
        TableColumn(field="title", title="finding", width=380, formatter=StringFormatter()),
        TableColumn(field="gain", title="estimated gain", width=170, formatter=StringFormatter()),
        TableColumn(field="where", title="evidence at", width=360, formatter=StringFormatter()),
    ]
    height = TABLE_HEADER_PX + TABLE_ROW_PX * min(n, MAX_VISIBLE_ROWS) + 2
    return DataTable(
        source=rows,
        columns=columns,
        height=height,
        row_height=TABLE_ROW_PX,
        index_position=None,
        # The columns share the output's width in these proportions (an 828 px notebook column included);
        # a cell too long for its column ends in an ellipsis, and the detail below the table has it in full.
        autosize_mode="force_fit",
        sortable=False,
        reorderable=False,
        sizing_mode="stretch_width",
        stylesheets=[InlineStyleSheet(css=CELL_CSS)],
        name="findings_table",
    )


def _title(view: FindingsView) -> str:
    n = len(view.rows)
    text = f"Findings · {n} bottleneck{'s' if n != 1 else ''}, largest estimated gain first"
    return f'<div style="font: 600 13px/1.4 sans-serif; color: #222">{_e(text)}</div>'


def _detail_box(inner: str) -> str:
    return (
        f'<div style="font: 12px/1.5 sans-serif; color: #222; height: {DETAIL_PX - 12}px; overflow: auto; '
        f'border-left: 3px solid #ddd; padding-left: 8px">{inner}</div>'
    )


def detail_html(row: FindingRow) -> str:
    """The selected finding in full, every run string escaped."""
    badge = (
        f'<span style="background: {row.color}; color: #fff; border-radius: 3px; padding: 0 5px; '
        f'font-weight: 600">{_e(row.severity)}</span>'
    )
    lines = [
        f"{badge} <b>#{row.rank} {_e(row.title)}</b> · <span>{_e(row.gain_text)}</span>",
    ]
    for label, text in (
        ("evidence", row.evidence_text),
        ("where", row.where_text),
        ("try", row.suggestion),
        ("assuming", row.assumption),
    ):
        if text:
            lines.append(f'<div><span style="color: #555">{label}:</span> {_e(text)}</div>')
    return "".join(lines)
