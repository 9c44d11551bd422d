"""Notes on the dashboard: labelled bands on the run-clock charts, the list under the summary, and the
note field (its text goes to the JupyterLab extension, which saves it with `%fmprofile_note`).

Every note string reaches the page either as canvas text (labels) or escaped HTML (the list); the field's
replies are escaped in the page before they are shown.
"""

from __future__ import annotations

import html
from typing import Any

from bokeh.events import SelectionGeometry
from bokeh.layouts import column, row
from bokeh.models import BoxSelectTool, CustomJS
from bokeh.models.annotations import LabelSet
from bokeh.models.widgets import Button, Div, TextInput
from bokeh.plotting import figure

from workbench.model.run import Run
from workbench.render.layout_parts import data_source
from workbench.render.notes_view import NotesView

BAND_FILL = "#ffd92f"
BAND_LINE = "#b8860b"
LIST_LINE_PX = 20
LIST_BASE_PX = 34
FIELD_PX = 40
STATUS_PX = 20
# How long the field waits for the extension's answer before it says nobody is listening.
ANSWER_TIMEOUT_MS = 4000

# Posted to the page that holds the dashboard's frame (JupyterLab, with FM Workbench's extension); it
# answers with {type: 'fmprofile:note-saved', ok, message}. Elsewhere nobody answers: say how else to
# add the note.
SEND_NOTE_JS = """
const text = field.value.trim();
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;',
  '"': '&quot;', "'": '&#39;'}[c]));
if (!text) { status.text = 'Type a note first.'; return; }
const range = field.tags.length === 2 ? field.tags : null;
const where = range ? ` --range ${range[0].toFixed(1)} ${range[1].toFixed(1)}` : '';
const fallback = `%fmprofile_note ${run_id}${where} "…"  (or: workbench note ${run_id}${where} "…")`;
if (window.parent === window) {
  status.text = esc('This page cannot save notes; in a notebook or a terminal: ' + fallback);
  return;
}
const id = Math.random().toString(36).slice(2);
let answered = false;
const listener = (event) => {
  const data = event.data || {};
  if (data.type !== 'fmprofile:note-saved' || data.id !== id) { return; }
  answered = true;
  window.removeEventListener('message', listener);
  status.text = esc(data.ok ? 'Saved: ' + (data.message || '') : 'Not saved: ' + (data.message || ''));
  if (data.ok) { field.value = ''; }
};
window.addEventListener('message', listener);
window.parent.postMessage({type: 'fmprofile:note', id: id, run: run_id, path: run_path || null, text: text,
  start_ms: range ? range[0] : null, end_ms: range ? range[1] : null}, '*');
status.text = 'Saving…';
setTimeout(() => {
  if (!answered) {
    window.removeEventListener('message', listener);
    status.text = esc('No FM Workbench extension answered (JupyterLab with fm-workbench installed saves '
      + 'notes from here). Add it with: ' + fallback);
  }
}, timeout_ms);
"""

FOLLOW_JS = """
const d = labels.data;
const lx = d.x0.map((x0, i) => (d.x1[i] > x_range.start ? Math.max(x0, x_range.start) : x0));
labels.data = {...d, lx: lx};
"""

PICK_RANGE_JS = """
const g = cb_obj.geometry;
if (g.x0 === undefined || g.x1 === undefined) { return; }
const x0 = Math.max(0, Math.min(g.x0, g.x1)), x1 = Math.max(g.x0, g.x1);
field.tags = [x0, x1];
status.text = `The note will cover ${x0.toFixed(1)}–${x1.toFixed(1)} ms (box-select again to change it).`;
"""


def draw_note_bands(fig: Any, view: NotesView) -> None:
    """Each timed note as a band over the whole height of a run-clock chart, numbered at its foot."""
    if not isinstance(fig, figure) or not view.timed:
        return
    data = view.band_columns()
    # Labels sit at the band's start (`lx`), or at the chart's left edge while the start is scrolled out
    # of view.
    start = getattr(fig.x_range, "start", None)
    start = float(start) if isinstance(start, int | float) else 0.0
    data["lx"] = [max(x0, start) if x1 > start else x0 for x0, x1 in zip(data["x0"], data["x1"], strict=True)]
    bands = data_source(data, name=f"{fig.name}_notes")
    fig.vstrip(
        x0="x0",
        x1="x1",
        source=bands,
        fill_color=BAND_FILL,
        fill_alpha=0.22,
        line_color=BAND_LINE,
        line_alpha=0.9,
        line_width=1.5,
        name=f"{fig.name}_note_band",
    )
    fig.x_range.js_on_change(
        "start", CustomJS(args={"labels": bands, "x_range": fig.x_range}, code=FOLLOW_JS)
    )
    labels = LabelSet(
        x="lx",
        y=4,
        y_units="screen",
        text="label",
        source=bands,
        text_font_size="11px",
        text_color="#5a4500",
        background_fill_color="#fff8d6",
        background_fill_alpha=0.9,
        x_offset=3,
        name=f"{fig.name}_note_labels",
    )
    fig.add_layout(labels)


def notes_list(view: NotesView) -> Any | None:
    """The notes under the summary, newest last; None when the run has none."""
    if not view.rows:
        return None
    items = "".join(
        f"<li><span style='color: #8a6d00'>[{_e(r.where)}]</span> {_e(r.text)}"
        + (f" <span style='color: #777'>— {_e(r.byline)}</span>" if r.byline else "")
        + "</li>"
        for r in view.rows
    )
    body = (
        f"<div style='font: 13px/1.4 sans-serif; color: #222'><b>Notes ({len(view.rows)})</b>"
        f"<ol style='margin: 2px 0 0 0; padding-left: 22px'>{items}</ol></div>"
    )
    lines = sum(1 + r.text.count("\n") for r in view.rows)
    return Div(
        text=body, height=LIST_BASE_PX + LIST_LINE_PX * lines, sizing_mode="stretch_width", name="notes"
    )


def note_field(run: Run, timeline: Any) -> Any:
    """A text field and a button that send a note, on the range box-selected on the timeline if any."""
    field = TextInput(
        placeholder="Add a note to this run (box-select a range on the timeline to note that range)…",
        sizing_mode="stretch_width",
        height=FIELD_PX - 8,
        name="note_field",
    )
    status = Div(text="", sizing_mode="stretch_width", height=STATUS_PX, name="note_status")
    button = Button(
        label="Add note", button_type="primary", width=100, height=FIELD_PX - 8, name="note_button"
    )
    send = CustomJS(
        args={
            "field": field,
            "status": status,
            "run_id": run.id,
            "run_path": str(run.path or ""),
            "timeout_ms": ANSWER_TIMEOUT_MS,
        },
        code=SEND_NOTE_JS,
    )
    button.js_on_event("button_click", send)
    if isinstance(timeline, figure):
        timeline.add_tools(BoxSelectTool(dimensions="width", description="Select a range to note"))
        pick = CustomJS(args={"field": field, "status": status}, code=PICK_RANGE_JS)
        timeline.js_on_event(SelectionGeometry, pick)
    return column(
        row(field, button, sizing_mode="stretch_width"), status, sizing_mode="stretch_width", name="note_bar"
    )


def _e(text: str) -> str:
    return html.escape(text, quote=True)
