"""The dashboard as plain HTML and inline styles: what a notebook shows where no JavaScript runs.

JupyterLab sanitizes the HTML of an untrusted notebook (one opened from someone else): scripts, iframes and
<style> elements go, while divs with inline positions, widths and colours stay. This picture, a flame graph
and the timeline drawn with such divs, the notes and the text summary, is in every notebook output; a
<style> element hides it wherever the interactive dashboard can run, so it shows only where that element
was removed. Every string in it is escaped.
"""

from __future__ import annotations

import html

from workbench.model.run import Run
from workbench.render.flame_view import FlameView
from workbench.render.notes_view import NotesView
from workbench.render.summary import summary_text
from workbench.render.timeline_view import TimelineView

CLASS = "wb-static"
# Hides the picture when the output's HTML is trusted (the <style> element survives only then).
HIDE_WHEN_TRUSTED = f"<style>.{CLASS} {{ display: none !important; }}</style>"

ROW_PX = 16
# Enough to see where the time goes; the saved output stays small (a few hundred divs).
MAX_FLAME_DEPTH = 18
MIN_FLAME_SHARE = 0.006
MAX_FLAME_RECTS = 400
MAX_LANES = 10
MIN_BAR_SHARE = 0.002
MAX_BARS = 300
BOX = "position: relative; width: 100%; background: #fafafa; border: 1px solid #ddd; margin: 4px 0 10px 0"
CELL = (
    "position: absolute; box-sizing: border-box; overflow: hidden; white-space: nowrap; "
    "border: 1px solid #fff; font: 11px/14px sans-serif; color: #111; padding: 0 2px"
)
NOTE_BAND = (
    "position: absolute; top: 0; bottom: 0; background: rgba(255, 217, 47, 0.25); "
    "border-left: 2px solid #b8860b"
)
NOTE_LABEL = (
    "position: absolute; top: 0; left: 2px; white-space: nowrap; font: 11px sans-serif; color: #5a4500; "
    "background: #fff8d6"
)
PRE = "font: 12px/1.5 monospace; background: #f7f7f7; padding: 8px 12px; white-space: pre-wrap"


def static_picture(run: Run, summary: str | None = None) -> str:
    """The picture, the notes and the summary (`summary_text(run)` unless given), inside a div of class
    `wb-static`."""
    notes = NotesView.from_run(run)
    parts = [
        "<div style='color: #555; margin: 2px 0 6px 0'>Static view of the dashboard (this notebook's "
        "scripts do not run here: trust the notebook, or open the run's report.html, for the interactive "
        "one).</div>",
        _flame(FlameView.from_run(run)),
        _timeline(TimelineView.from_run(run), notes),
        _notes(notes),
        f"<pre style='{PRE}'>{_e(summary_text(run) if summary is None else summary)}</pre>",
    ]
    return f"<div class='{CLASS}' style='font: 12px sans-serif; color: #222'>{''.join(parts)}</div>"


def _flame(view: FlameView) -> str:
    rects = [r for r in view.rects if r.depth < MAX_FLAME_DEPTH and r.width >= MIN_FLAME_SHARE]
    rects = sorted(rects, key=lambda r: (r.depth, -r.width))[:MAX_FLAME_RECTS]
    if not rects:
        return "<div style='color: #555'>CPU flame graph: no CPU samples in this run.</div>"
    depth = max(r.depth for r in rects) + 1
    cells = "".join(
        f"<div title='{_e(r.function)} · {r.total_pct:.1f}% of samples' style='{CELL}; "
        f"left: {100 * r.x0:.3f}%; width: {100 * r.width:.3f}%; top: {r.depth * ROW_PX}px; "
        f"height: {ROW_PX}px; background: {_e(r.color)}'>{_e(r.function)}</div>"
        for r in rects
    )
    title = (
        f"<b>CPU flame graph</b> · {view.total_ms:,.0f} ms sampled"
        f" (frames under {MIN_FLAME_SHARE:.1%} left out)"
    )
    return f"<div>{title}</div><div style='{BOX}; height: {depth * ROW_PX}px'>{cells}</div>"


def _timeline(view: TimelineView, notes: NotesView) -> str:
    if view.empty or view.duration_ms <= 0:
        return ""
    scale = 100 / view.duration_ms
    bars = [b for b in view.bars if b.lane < MAX_LANES and b.duration_ms * scale >= 100 * MIN_BAR_SHARE]
    bars = sorted(bars, key=lambda b: -b.duration_ms)[:MAX_BARS]
    lanes = min(view.lanes, MAX_LANES)
    cells = "".join(
        f"<div title='{_e(b.name)} ({_e(b.kind)}) · {b.duration_ms:,.1f} ms' style='{CELL}; "
        f"left: {b.start_ms * scale:.3f}%; width: {b.duration_ms * scale:.3f}%; top: {b.lane * ROW_PX}px; "
        f"height: {ROW_PX}px; background: {_e(b.color)}'>{_e(b.name)}</div>"
        for b in bars
    )
    bands = "".join(
        f"<div title='{_e(n.text)}' style='{NOTE_BAND}; left: {n.start_ms * scale:.3f}%; "
        f"width: {max(((n.end_ms or n.start_ms) - n.start_ms) * scale, 0.2):.3f}%'>"
        f"<span style='{NOTE_LABEL}'>{_e(n.label)}</span></div>"
        for n in notes.timed
        if n.start_ms is not None
    )
    title = f"<b>Timeline</b> · spans by nesting over {view.duration_ms:,.0f} ms"
    return f"<div>{title}</div><div style='{BOX}; height: {max(lanes, 1) * ROW_PX}px'>{cells}{bands}</div>"


def _notes(view: NotesView) -> str:
    if not view.rows:
        return ""
    items = "".join(f"<li>[{_e(r.where)}] {_e(r.text)}{_byline(r.byline)}</li>" for r in view.rows)
    return f"<div><b>Notes ({len(view.rows)})</b><ol style='margin: 2px 0 8px 0'>{items}</ol></div>"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _byline(byline: str) -> str:
    return f" <span style='color: #777'>— {_e(byline)}</span>" if byline else ""
