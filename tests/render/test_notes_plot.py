"""Notes on the dashboard: bands on the run-clock charts, the list under the summary, the note field, the
text summary, and the static picture an untrusted notebook shows; every note string escaped."""

from __future__ import annotations

import html
import re

from workbench.model import Annotation
from workbench.render import notebook_bundle, report_html, summary_text
from workbench.render.dashboard import DashboardRenderer
from workbench.render.notes_view import NotesView
from workbench.render.static_picture import CLASS, HIDE_WHEN_TRUSTED, static_picture

from .synthetic import MS, realistic_run

SCRIPT = "<script>window.pwned = 1</script>"
IMG = '"><img src=x onerror="window.pwned = 2">'


def _noted_run():  # type: ignore[no-untyped-def]
    run = realistic_run()
    run.annotations = [
        Annotation(t_ns=None, text=f"whole run {SCRIPT}", author="ana", created="2026-11-21T10:00:00+00:00"),
        Annotation(t_ns=100 * MS, text=f"retrieval slow {IMG}", end_ns=300 * MS, author="bo"),
        Annotation(t_ns=450 * MS, text="a point"),
    ]
    return run


def test_view_numbers_notes_and_places_timed_ones_on_the_run_clock() -> None:
    view = NotesView.from_run(_noted_run())
    assert [r.number for r in view.rows] == [1, 2, 3]
    assert [r.where for r in view.rows] == ["whole run", "100.0–300.0 ms", "at 450.0 ms"]
    bands = view.band_columns()
    assert bands["x0"] == [100.0, 450.0] and bands["x1"] == [300.0, 450.0]
    assert bands["label"][0].startswith("2. retrieval slow")


def test_bands_on_timeline_and_list_under_the_header() -> None:
    layout = DashboardRenderer().render(_noted_run()).layout
    names = [child.name for child in layout.children]
    assert names[:2] == ["summary_header", "notes"]
    sources = {m.name: m for m in layout.references() if m.name}
    assert sources["timeline_notes"].data["x0"] == [100.0, 450.0]
    assert "timeline_note_band" in sources and "timeline_note_labels" in sources
    listed = sources["notes"].text
    # The note text is in the list, escaped: no tag of it survives as markup.
    assert html.escape(SCRIPT) in listed and "<script>" not in listed
    assert html.escape(IMG, quote=True) in listed and "<img" not in listed
    assert "ana · 2026-11-21 10:00:00+00:00" in listed


def test_label_starts_at_the_view_when_the_band_starts_before_it() -> None:
    run = _noted_run()
    run.metrics["cell_start_ms"] = 200.0  # the view opens at 196 ms (2% before the cell)
    layout = DashboardRenderer().render(run).layout
    labels = next(m for m in layout.references() if m.name == "timeline_notes")
    assert labels.data["lx"] == [196.0, 450.0]


def test_without_notes_no_list_and_no_bands_but_the_note_field() -> None:
    layout = DashboardRenderer().render(realistic_run()).layout
    names = {m.name for m in layout.references() if m.name}
    assert "notes" not in names and "timeline_notes" not in names
    assert {"note_bar", "note_field", "note_button"} <= names


def test_summary_text_lists_notes() -> None:
    text = summary_text(_noted_run())
    assert "notes (3):" in text
    assert "1. [whole run] whole run <script>" in text  # plain text; escaped where it becomes HTML
    assert "3. [at 450.0 ms] a point" in text


def test_report_escapes_every_note() -> None:
    page = report_html(_noted_run())
    assert SCRIPT not in page and "<img src=x" not in page


def test_static_picture_draws_flame_timeline_and_notes_escaped() -> None:
    run = _noted_run()
    picture = static_picture(run)
    assert picture.startswith(f"<div class='{CLASS}'")
    assert "<script" not in picture and "<img" not in picture and "<style" not in picture
    assert html.escape(SCRIPT) in picture
    # Frames of the flame graph and spans of the timeline, as positioned divs with their names.
    lefts = re.findall(r"left: ([0-9.]+)%", picture)
    assert len(lefts) > 10 and all(0 <= float(x) <= 100 for x in lefts)
    assert ">retrieve<" in picture or "retrieve" in picture
    assert "Notes (3)" in picture and "FM Workbench run" in picture


def test_notebook_bundle_has_the_frame_the_picture_and_the_style_that_hides_it() -> None:
    markup = notebook_bundle(_noted_run())["text/html"]
    frame_at, picture_at = markup.index("<iframe"), markup.index(f"class='{CLASS}'")
    assert markup.index(HIDE_WHEN_TRUSTED) < frame_at < picture_at
    # The saved output carries the notes in both the frame and the picture.
    assert markup.count("retrieval slow") >= 2
