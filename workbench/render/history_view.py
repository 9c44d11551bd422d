"""The history sparklines under the dashboard's header: a named run's key metrics over the runs of the same
name in the same store, up to and including this one, the current run highlighted.

`HistoryView.from_run(run, store)` reads the store (`store.history.history`) before anything is drawn;
`HistoryRenderer` draws from the view alone (inline SVG in a Div: no JavaScript, renders offline). There is
no view (None), so nothing is drawn, when the run is the first of its name, when it was never saved and no
store is given, or when the store cannot be read.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bokeh.models.widgets import Div

from workbench.model.run import Run
from workbench.store.history import history, history_row

MAX_POINTS = 20
# (history column, label, unit, higher is better): wall time always, the others when this run has them.
METRICS = (
    ("wall_s", "wall", "s", False),
    ("output_tokens_per_s", "tokens/s", "", True),
    ("ttft_ms_p50", "TTFT p50", "ms", False),
)
HEIGHT_PX = 32
SVG_WIDTH_PX = 110
SVG_HEIGHT_PX = 24
PAD_PX = 4
STYLE = "font: 12px/1.4 sans-serif; color: #555; display: flex; gap: 18px; align-items: center"
ITEM_STYLE = "display: inline-flex; align-items: center; gap: 4px"
LINE_COLOR = "#999"
CURRENT_COLOR = "#d62728"
BETTER_COLOR = "#2a7a2a"
WORSE_COLOR = "#a33"


@dataclass(frozen=True)
class Sparkline:
    metric: str
    label: str
    unit: str
    higher_is_better: bool
    values: list[float | None]  # one per run of the view, None where that run lacks the metric

    def change_pct(self, current: int) -> float | None:
        """The change of the current run's value against the closest earlier run that has one, in %."""
        now = self.values[current]
        before = [v for v in self.values[:current] if v is not None]
        if now is None or not before or before[-1] == 0:
            return None
        return 100.0 * (now - before[-1]) / abs(before[-1])


@dataclass(frozen=True)
class HistoryView:
    name: str
    run_ids: list[str]  # oldest first, the last MAX_POINTS runs of the name up to the current one
    created: list[str]
    current: int  # index of the current run in `run_ids`
    sparklines: list[Sparkline]

    @classmethod
    def from_run(cls, run: Run, store: str | Path | None = None) -> HistoryView | None:
        """The history of `run.name` in `store` (default: the store the run was saved in)."""
        root = Path(store) if store is not None else store_of(run)
        if root is None:
            return None
        try:
            records = history(run.name, root).to_dict("records")
        except Exception:  # an unreadable store: no sparkline, never a failed dashboard
            return None
        rows = [{str(key): value for key, value in record.items()} for record in records]
        ids = [row["id"] for row in rows]
        if run.id in ids:
            rows = rows[: ids.index(run.id) + 1]
        else:
            rows.append(history_row({"id": run.id, "created": run.created, "metrics": run.metrics}))
        rows[-1]["wall_s"] = run.wall_s
        # Runs that could not be read (no wall time) are left out; the current run is always the last.
        rows = [row for row in rows[:-1] if _number(row["wall_s"]) is not None] + rows[-1:]
        rows = rows[-MAX_POINTS:]
        if len(rows) < 2:
            return None
        current = rows[-1]
        sparklines = [
            Sparkline(column, label, unit, higher, [_number(row[column]) for row in rows])
            for column, label, unit, higher in METRICS
            if column == "wall_s" or _number(current[column]) is not None
        ]
        return cls(
            name=run.name,
            run_ids=[str(row["id"]) for row in rows],
            created=[row["created"] if isinstance(row["created"], str) else "" for row in rows],
            current=len(rows) - 1,
            sparklines=sparklines,
        )


def store_of(run: Run) -> Path | None:
    """The store a saved run lives in (`<store>/runs/<run-id>/`), None for a run never saved."""
    if run.path is None or run.path.parent.name != "runs":
        return None
    return run.path.parent.parent


class HistoryRenderer:
    def render(self, view: HistoryView | None) -> Any:
        if view is None:
            return None
        title = f"<span>history of <b>{_e(view.name)}</b>, {len(view.run_ids)} runs:</span>"
        parts = [title, *(_sparkline(view, line) for line in view.sparklines)]
        return Div(
            text=f'<div style="{STYLE}">{"".join(parts)}</div>',
            height=HEIGHT_PX,
            sizing_mode="stretch_width",
            name="history_sparkline",
        )


def _sparkline(view: HistoryView, line: Sparkline) -> str:
    known = [v for v in line.values if v is not None]
    low, high = min(known), max(known)
    n = len(line.values)
    step = (SVG_WIDTH_PX - 2 * PAD_PX) / max(n - 1, 1)

    def y(value: float) -> float:
        if high == low:
            return SVG_HEIGHT_PX / 2
        return PAD_PX + (high - value) / (high - low) * (SVG_HEIGHT_PX - 2 * PAD_PX)

    points = [(PAD_PX + i * step, y(v), i, v) for i, v in enumerate(line.values) if v is not None]
    path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in points)
    marks = []
    for px, py, i, value in points:
        is_current = i == view.current
        current_attr = ' data-current="true"' if is_current else ""
        tip = f"{view.run_ids[i]} ({view.created[i]}): {_value(value, line.unit)}"
        color = CURRENT_COLOR if is_current else LINE_COLOR
        marks.append(
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="{3.5 if is_current else 1.8}" fill="{color}" '
            f'data-run="{_e(view.run_ids[i])}"{current_attr}>'
            f"<title>{_e(tip)}</title></circle>"
        )
    svg = (
        f'<svg width="{SVG_WIDTH_PX}" height="{SVG_HEIGHT_PX}" role="img" data-metric="{line.metric}">'
        f'<polyline points="{path}" fill="none" stroke="{LINE_COLOR}" stroke-width="1.2"/>'
        f"{''.join(marks)}</svg>"
    )
    now = line.values[view.current]
    text = f"{_e(line.label)} {_value(now, line.unit)}" if now is not None else _e(line.label)
    change = line.change_pct(view.current)
    if change is not None:
        percent = round(change)
        better = (percent > 0) == line.higher_is_better
        color = "#555" if percent == 0 else BETTER_COLOR if better else WORSE_COLOR
        shown = f"{percent:+d}%" if percent else "0%"
        text += f" <span style='color: {color}'>({shown})</span>"
    return f"<span style='{ITEM_STYLE}'>{svg} {text}</span>"


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    number = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return f"{number} {unit}".strip()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) else float(value)


def _e(text: str) -> str:
    return html.escape(text, quote=True)
