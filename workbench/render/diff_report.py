"""The compare report: run A (baseline) against run B, as a standalone page, a notebook bundle, and text.

The page carries BokehJS inline (renders offline, like `report_html`); the notebook bundle isolates it in an
iframe (srcdoc), for the reasons given in `html_output`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
from bokeh.embed import file_html
from bokeh.layouts import column
from bokeh.models.widgets import Div
from bokeh.resources import INLINE

from workbench.analysis.diff import RunDiff, compare
from workbench.model.run import Run
from workbench.render.diff_flame import DiffFlameRenderer
from workbench.render.tables import html_table, table_div

TABLE_ROWS = 15
HEADER_PX = 70
DIRECTION_COLORS = {"better": "#1b7f3b", "worse": "#c62828", "same": "#777", "changed": "#8a6d00"}
BODY_PADDING_PX = 40
PEERS_PX = 20
PEERS_NOTE = "two ranks of one job: differences are imbalance between ranks, neither better nor worse"


def run_label(run: Run) -> str:
    return f"{run.name} ({run.id}, {run.created})"


def fmt(value: Any, signed: bool = False) -> str:
    """A number for a table cell; "–" for a missing one."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if not isinstance(value, int | float):
        return str(value)
    sign = "+" if signed else ""
    size = abs(value)
    if size >= 1000 or (size == int(size) and size >= 1):
        return f"{value:{sign},.0f}"
    return f"{value:{sign},.2f}" if size >= 1 else f"{value:{sign}.3g}"


def _word(value: Any, missing: str) -> str:
    return value if isinstance(value, str) and value else missing


def _pct(value: Any) -> str:
    text = fmt(value, signed=True)
    return text if text == "–" else text + "%"


# --- table rows, shared by the page and the text form ----------------------------------------------


def metric_rows(diff: RunDiff) -> list[list[str]]:
    return [
        [
            str(r.metric),
            fmt(r.a),
            fmt(r.b),
            fmt(r.delta, signed=True),
            _pct(r.delta_pct),
            _word(r.direction, "–") + _p_value(r),
        ]
        for r in diff.metrics.itertuples()
    ]


def _p_value(row: Any) -> str:
    """Text such as " (p=0.42)" after the direction of a metric compared over repetitions (`--repeat`)."""
    p = getattr(row, "p_value", None)
    return "" if p is None or (isinstance(p, float) and math.isnan(p)) else f" (p={p:.2g})"


def function_rows(diff: RunDiff, limit: int = TABLE_ROWS) -> list[list[str]]:
    return [
        [str(r.function), fmt(r.self_pct_a), fmt(r.self_pct_b), fmt(r.delta, signed=True), fmt(r.total_pct_a),
         fmt(r.total_pct_b), fmt(r.total_delta, signed=True), _word(r.only_in, "")]
        for r in diff.functions.head(limit).itertuples()
    ]  # fmt: skip


def span_rows(frame: pd.DataFrame, key: Callable[[Any], str], limit: int = TABLE_ROWS) -> list[list[str]]:
    return [
        [key(r), f"{r.count_a}", f"{r.count_b}", fmt(r.total_ms_a), fmt(r.total_ms_b),
         fmt(r.delta_ms, signed=True), _pct(r.delta_pct), _word(r.only_in, "")]
        for r in frame.head(limit).itertuples()
    ]  # fmt: skip


METRIC_HEADER = ["metric", "A", "B", "delta", "delta %", "direction"]
FUNCTION_HEADER = [
    "function",
    "self % A",
    "self % B",
    "Δ self",
    "total % A",
    "total % B",
    "Δ total",
    "only in",
]
SPAN_HEADER = ["span (kind)", "count A", "count B", "ms A", "ms B", "Δ ms", "Δ %", "only in"]
KERNEL_HEADER = ["kernel", "count A", "count B", "ms A", "ms B", "Δ ms", "Δ %", "only in"]


def _span_key(r: Any) -> str:
    return f"{r.name} ({r.kind})"


def _kernel_key(r: Any) -> str:
    return str(r.name)


# --- the page ----------------------------------------------------------------------------------------


def _escaped(rows: Sequence[Sequence[str]]) -> list[list[str]]:
    return [[html.escape(cell) for cell in row] for row in rows]


def _metric_table(diff: RunDiff) -> Any:
    rows = []
    for row in metric_rows(diff):
        color = DIRECTION_COLORS.get(row[-1].split(" ")[0], "#222")
        cells = [html.escape(cell) for cell in row]
        cells[-1] = f'<span style="color: {color}; font-weight: 600">{cells[-1]}</span>'
        cells[3] = f'<span style="color: {color}">{cells[3]}</span>'
        rows.append(cells)
    notes = ["A is the baseline; delta = B − A. Direction knows whether higher is better for each metric."]
    return table_div(
        "Metrics", html_table(METRIC_HEADER, rows, "wb-diff-metrics"), notes, len(rows), "diff_metrics"
    )


def _header(diff: RunDiff) -> Any:
    text = (
        '<div style="font: 13px/1.5 sans-serif">'
        f'<div style="font-size: 16px; font-weight: 600">Compare: {html.escape(diff.a.name)} → '
        f"{html.escape(diff.b.name)}</div>"
        f"<div><b>A</b> (baseline): {html.escape(run_label(diff.a))}</div>"
        f"<div><b>B</b>: {html.escape(run_label(diff.b))}</div>"
        + (f"<div><b>{html.escape(diff.peers)}</b>: {PEERS_NOTE}</div>" if diff.peers else "")
        + "</div>"
    )
    height = HEADER_PX + (PEERS_PX if diff.peers else 0)
    return Div(text=text, height=height, sizing_mode="stretch_width", name="diff_header")


def diff_layout(diff: RunDiff) -> tuple[Any, int]:
    """The Bokeh layout of the report and its height in CSS pixels."""
    parts = [_header(diff), _metric_table(diff), DiffFlameRenderer().render(diff.flame)]
    functions = function_rows(diff)
    if functions:
        table = html_table(FUNCTION_HEADER, _escaped(functions), "wb-diff-functions")
        notes = ["Shares of each run's sampled (non-idle) CPU time; sorted by |Δ self|."]
        parts.append(table_div("Functions", table, notes, len(functions), "diff_functions"))
    spans = span_rows(diff.spans, _span_key)
    if spans:
        table = html_table(SPAN_HEADER, _escaped(spans), "wb-diff-spans")
        parts.append(table_div("Spans (total duration)", table, [], len(spans), "diff_spans"))
    kernels = span_rows(diff.kernels, _kernel_key)
    if kernels:
        table = html_table(KERNEL_HEADER, _escaped(kernels), "wb-diff-kernels")
        parts.append(table_div("GPU kernels", table, [], len(kernels), "diff_kernels"))
    height = sum(int(getattr(part, "height", 0) or 0) + 10 for part in parts)
    return column(*parts, sizing_mode="stretch_width"), height


def page_title(diff: RunDiff) -> str:
    return f"FM Workbench — compare {diff.a.name} vs {diff.b.name}"


def diff_html(diff: RunDiff) -> str:
    return _page(diff)[0]


def _page(diff: RunDiff) -> tuple[str, int]:
    layout, height = diff_layout(diff)
    page = file_html(layout, resources=INLINE, title=page_title(diff))
    return page, height + BODY_PADDING_PX


def compare_html(a: Run, b: Run) -> str:
    """A standalone page comparing run `a` (baseline) with run `b`."""
    return diff_html(compare(a, b))


def diff_bundle(diff: RunDiff) -> dict[str, str]:
    """A notebook display bundle: the page in an iframe (srcdoc), and the text form."""
    page, height = _page(diff)
    title = html.escape(page_title(diff), quote=True)
    frame = (
        f'<iframe srcdoc="{html.escape(page, quote=True)}" title="{title}" '
        f'style="width: 100%; height: {height}px; border: 1px solid #ddd; border-radius: 4px" '
        'sandbox="allow-scripts allow-downloads" loading="eager"></iframe>'
    )
    return {"text/html": f'<div class="fm-workbench-compare">{frame}</div>', "text/plain": diff_text(diff)}


# --- text --------------------------------------------------------------------------------------------


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in col) for col in zip(header, *rows, strict=True)]
    lines = [header, *rows]
    out = []
    for line in lines:
        cells = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def diff_text(diff: RunDiff, limit: int = 10) -> str:
    parts = [
        f"compare  A: {run_label(diff.a)}\n         B: {run_label(diff.b)}"
        + (f"\n{diff.peers}: {PEERS_NOTE}" if diff.peers else ""),
        "metrics (delta = B − A)\n" + text_table(METRIC_HEADER, metric_rows(diff)),
    ]
    functions = function_rows(diff, limit)
    parts.append(
        "functions (share of sampled CPU time, %)\n" + text_table(FUNCTION_HEADER, functions)
        if functions
        else "functions: no CPU samples in either run"
    )
    spans = span_rows(diff.spans, _span_key, limit)
    if spans:
        parts.append("spans\n" + text_table(SPAN_HEADER, spans))
    kernels = span_rows(diff.kernels, _kernel_key, limit)
    if kernels:
        parts.append("GPU kernels\n" + text_table(KERNEL_HEADER, kernels))
    return "\n\n".join(parts)
