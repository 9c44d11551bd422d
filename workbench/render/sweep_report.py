"""The sweep output: a table of configurations (Pareto ones marked) and a scatter of throughput against
latency with the front highlighted; a standalone page with BokehJS inline, a notebook bundle, and text."""

from __future__ import annotations

import html
from typing import Any

from bokeh.embed import file_html
from bokeh.layouts import column
from bokeh.models import HoverTool
from bokeh.models.widgets import Div
from bokeh.plotting import figure
from bokeh.resources import INLINE

from workbench.model.run import Run
from workbench.render.diff_report import fmt, text_table
from workbench.render.layout_parts import data_source
from workbench.render.sweep_view import SweepView
from workbench.render.tables import html_table, table_div

PLOT_PX = 360
HEADER_PX = 40
BODY_PADDING_PX = 40
FRONT_COLOR = "#d62728"
OTHER_COLOR = "#7f7f7f"
HEADER = ["configuration", "run", "wall s", "out tok/s", "TTFT p90 ms", "E2E p90 ms", "req/s", "Pareto"]


def table_rows(view: SweepView) -> list[list[str]]:
    return [
        [
            str(r.get("label", "")),
            str(r.get("run_id", "")),
            fmt(r.get("wall_s")),
            fmt(r.get("output_tokens_per_s")),
            fmt(r.get("ttft_ms_p90")),
            fmt(r.get("e2e_ms_p90")),
            fmt(r.get("request_throughput_per_s")),
            "★" if r.get("pareto") else "",
        ]
        for r in view.rows
    ]


def _plot(view: SweepView) -> Any:
    fig = figure(
        title=f"Throughput vs latency · Pareto front in red ({view.y_label} ↑, {view.x_label} ↓)",
        height=PLOT_PX,
        sizing_mode="stretch_width",
        x_axis_label=view.x_label,
        y_axis_label=view.y_label,
        tools="pan,wheel_zoom,box_zoom,reset,save",
        name="sweep_scatter",
    )
    fig.line(
        "x",
        "y",
        source=data_source(view.front_line(), name="sweep_front_line"),
        color=FRONT_COLOR,
        line_dash="dashed",
    )
    others = fig.scatter(
        "x",
        "y",
        source=data_source(view.points(False), name="sweep_others"),
        size=10,
        color=OTHER_COLOR,
        legend_label="configuration",
    )
    front = fig.scatter(
        "x",
        "y",
        source=data_source(view.points(True), name="sweep_front"),
        size=12,
        color=FRONT_COLOR,
        marker="diamond",
        legend_label="Pareto front",
    )
    tooltips = [("configuration", "@label"), ("run", "@run_id"), ("x", "@x{0,0.000}"), ("y", "@y{0,0.000}")]
    fig.add_tools(HoverTool(renderers=[others, front], tooltips=tooltips))
    fig.legend.location = "bottom_right"
    return fig


def sweep_layout(run: Run) -> tuple[Any, int]:
    view = SweepView.from_run(run)
    header = Div(
        text=f'<div style="font: 16px sans-serif; font-weight: 600">Sweep: {html.escape(run.name)} '
        f'<span style="font-weight: 400; color: #555">({html.escape(run.id)})</span></div>',
        height=HEADER_PX,
        sizing_mode="stretch_width",
    )
    rows = [[html.escape(c) for c in row] for row in table_rows(view)]
    notes = ["★ on the Pareto front: no other configuration has both more throughput and less latency."]
    table = table_div("Configurations", html_table(HEADER, rows, "wb-sweep"), notes, len(rows), "sweep_table")
    parts = [header, _plot(view), table]
    height = HEADER_PX + PLOT_PX + int(table.height) + 30
    return column(*parts, sizing_mode="stretch_width"), height


def sweep_html(run: Run) -> str:
    layout, _ = sweep_layout(run)
    return str(file_html(layout, resources=INLINE, title=f"FM Workbench — sweep {run.name}"))


def sweep_text(run: Run) -> str:
    view = SweepView.from_run(run)
    axes = f"throughput: {view.y_label}; latency: {view.x_label}"
    return f"sweep {run.name} ({run.id}) · {axes}\n" + text_table(HEADER, table_rows(view))


def sweep_bundle(run: Run) -> dict[str, str]:
    layout, height = sweep_layout(run)
    page = file_html(layout, resources=INLINE, title=f"FM Workbench — sweep {run.name}")
    frame = (
        f'<iframe srcdoc="{html.escape(page, quote=True)}" title="{html.escape(run.name, quote=True)}" '
        f'style="width: 100%; height: {height + BODY_PADDING_PX}px; border: 1px solid #ddd; '
        'border-radius: 4px" '
        'sandbox="allow-scripts allow-downloads" loading="eager"></iframe>'
    )
    return {"text/html": f'<div class="fm-workbench-sweep">{frame}</div>', "text/plain": sweep_text(run)}
