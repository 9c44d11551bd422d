"""The dashboard's tables as plain HTML in a Bokeh `Div`: the stage table and the per-model table.

Plain HTML renders with no kernel and is searchable in the page. Cells wrap at word boundaries, so a
table fits a narrow output (an 828 px notebook column) instead of being cut; what cannot wrap scrolls in the
table's own box. Its height is estimated in advance for a row per line (the notebook's iframe starts at
that height); a `grow` table takes the height its wrapped rows need, a fixed one (the diff and sweep
reports, whose frames cannot follow their content) keeps the estimate.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from bokeh.models.widgets import Div

from workbench.model.run import Run
from workbench.render.model_view import LATENCY_COLUMNS, ModelTableView
from workbench.render.stage_view import StageView

TITLE_PX = 26
HEAD_PX = 24
ROW_PX = 22
NOTE_PX = 40
PADDING_PX = 16
STYLE = """
<style>
  table.wb-table { border-collapse: collapse; font: 12px/1.4 sans-serif; color: #222; max-width: 100%; }
  table.wb-table th, table.wb-table td { padding: 2px 8px; border-bottom: 1px solid #e5e5e5;
                                         overflow-wrap: break-word; }
  table.wb-table th { min-width: 3em; }
  table.wb-table td:first-child { min-width: 6em; }
  table.wb-table th { text-align: right; background: #f7f7f7; font-weight: 600; }
  table.wb-table td { text-align: right; font-variant-numeric: tabular-nums; }
  table.wb-table th:first-child, table.wb-table td:first-child { text-align: left; }
  .wb-swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; border: 1px solid #888; }
</style>
"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]], css_class: str) -> str:
    """`rows` are HTML already (cells escaped by the caller); the header is escaped here."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="wb-table {css_class}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def table_height(rows: int, notes: int) -> int:
    """The height of a table of one-line rows, in CSS pixels."""
    return PADDING_PX + TITLE_PX + HEAD_PX + ROW_PX * rows + NOTE_PX * notes


def table_div(title: str, table: str, notes: Sequence[str], rows: int, name: str, grow: bool = False) -> Any:
    """The table in a Div as tall as its estimate; `grow`: at least that tall, taller when rows wrap."""
    height = table_height(rows, len(notes))
    note_html = "".join(f'<div style="color: #555; margin-top: 6px">{_e(n)}</div>' for n in notes)
    box = "overflow-x: auto" if grow else f"height: {height - PADDING_PX}px; overflow: auto"
    text = (
        f'{STYLE}<div style="font: 13px/1.4 sans-serif; {box}">'
        f'<div style="font-weight: 600; margin-bottom: 4px">{_e(title)}</div>{table}{note_html}</div>'
    )
    if grow:
        return Div(text=text, min_height=height, sizing_mode="stretch_width", name=name)
    return Div(text=text, height=height, sizing_mode="stretch_width", name=name)


class StageTableRenderer:
    def render(self, run: Run) -> Any | None:
        view = StageView.from_run(run)
        if not view.has_stages:
            return None
        header = ["kind", "spans", "wall ms", "wall share", "critical path ms", "critical share"]
        rows = [
            [
                f'<span class="wb-swatch" style="background: {r.color}"></span>{_e(r.kind)}',
                f"{r.count:,}",
                _ms(r.wall_ms),
                _pct(r.wall_share),
                _ms(r.critical_ms),
                _pct(r.critical_share),
            ]
            for r in view.rows
        ]
        sentence = view.parallel_sentence()
        title = f"Stages · critical path {view.total_ms:,.1f} ms (the spans that decided when the cell ended)"
        table = html_table(header, rows, "wb-stage-table")
        return table_div(title, table, [sentence] if sentence else [], len(rows), "stage_table", grow=True)


class ModelTableRenderer:
    def render(self, run: Run) -> Any | None:
        view = ModelTableView.from_run(run)
        if view.empty:
            return None
        header = ["model", "requests", "failed", *(f"{t} ms" for t, _, _ in LATENCY_COLUMNS), "output tok/s"]
        if view.has_goodput:
            header.append("met SLO")
        rows = []
        for r in view.rows:
            cells = [_e(r.model), f"{r.requests:,}", f"{r.failed:,}"]
            cells += [_ms(r.latency_ms[t]) for t, _, _ in LATENCY_COLUMNS]
            cells.append(_ms(r.output_tokens_per_s))
            if view.has_goodput:
                cells.append(_e(r.goodput or "–"))
            rows.append(cells)
        notes = [view.goodput] if view.goodput else []
        table = html_table(header, rows, "wb-model-table")
        return table_div("LLM requests per model", table, notes, len(rows), "model_table", grow=True)
