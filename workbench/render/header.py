"""The dashboard's header: the run's name, its summary line, goodput against the SLO, skipped collectors."""

from __future__ import annotations

import html
from typing import Any

from bokeh.models.widgets import Div

from workbench.model.run import Run
from workbench.render.summary import SummaryView

BASE_PX = 64
LINE_PX = 18
BASE_LINES = 3  # title, summary line, latency: what BASE_PX holds
STYLE = "font: 13px/1.4 sans-serif; color: #222"


class HeaderRenderer:
    def render(self, run: Run) -> Any:
        summary = SummaryView.from_run(run)
        lines = [
            f"<b style='font-size: 16px'>FM Workbench · {_e(summary.name)}</b>"
            f" <span style='color: #777'>({_e(summary.run_id)})</span>",
            _e(summary.line()),
            f"<span style='color: #555'>{_e(summary.latency_phrase())}"
            f" · collectors {_e(summary.collectors_phrase())}</span>",
        ]
        goodput = summary.goodput_phrase()
        if goodput:
            lines.append(f"<b style='color: #225'>{_e(goodput)}</b>")
        lines += [
            f"<span style='color: #a33'>skipped {_e(name)}: {_e(reason)}</span>"
            for name, reason in summary.skipped
        ]
        body = "<br>".join(lines)
        return Div(
            text=f'<div style="{STYLE}">{body}</div>',
            # At least its lines' height; taller where a line wraps in a narrow output.
            min_height=BASE_PX + LINE_PX * (len(lines) - BASE_LINES),
            sizing_mode="stretch_width",
            name="summary_header",
        )


def _e(text: str) -> str:
    return html.escape(text, quote=True)
