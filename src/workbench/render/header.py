"""The dashboard's header: the run's name, its one-line summary, and which collectors were skipped and why."""

from __future__ import annotations

import html
from typing import Any

from bokeh.models.widgets import Div

from workbench.model.run import Run
from workbench.render.summary import SummaryView

BASE_PX = 64
LINE_PX = 18
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
        lines += [
            f"<span style='color: #a33'>skipped {_e(name)}: {_e(reason)}</span>"
            for name, reason in summary.skipped
        ]
        body = "<br>".join(lines)
        return Div(
            text=f'<div style="{STYLE}">{body}</div>',
            height=BASE_PX + LINE_PX * len(summary.skipped),
            sizing_mode="stretch_width",
            name="summary_header",
        )


def _e(text: str) -> str:
    return html.escape(text, quote=True)
