"""The standalone report and the notebook bundle, checked as documents (the browser tests run them)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from workbench.model import Recording
from workbench.render import notebook_bundle, report_html, summary_line, summary_text
from workbench.render.dashboard import DashboardRenderer

from .synthetic import bare_run, realistic_run


class _Iframes(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.frames: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "iframe":
            self.frames.append(dict(attrs))


def _iframes(markup: str) -> list[dict[str, str | None]]:
    parser = _Iframes()
    parser.feed(markup)
    return parser.frames


def test_report_is_standalone_with_title_and_text_summary() -> None:
    run = realistic_run()
    page = report_html(run)
    assert "<title>FM Workbench — rag-v2</title>" in page
    assert f'<pre class="wb-summary">{html.escape(summary_text(run))}</pre>' in page
    # BokehJS inline, nothing loaded from elsewhere.
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']?(https?:)?//", page)
    assert "Bokeh" in page


def test_run_names_are_escaped() -> None:
    page = report_html(bare_run(Recording(), name="<script>alert(1)</script>"))
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_notebook_bundle_wraps_the_report_in_an_iframe() -> None:
    run = realistic_run()
    bundle = notebook_bundle(run)
    assert set(bundle) == {"text/html", "text/plain"}
    assert bundle["text/plain"] == summary_text(run)
    (frame,) = _iframes(bundle["text/html"])
    srcdoc = frame["srcdoc"] or ""
    assert srcdoc.startswith("<!DOCTYPE html>") and "<title>FM Workbench — rag-v2</title>" in srcdoc
    assert "width: 100%" in (frame["style"] or "")
    height = int(re.search(r"height: (\d+)px", frame["style"] or "").group(1))  # type: ignore[union-attr]
    assert height >= DashboardRenderer().render(run).height_px
    # The summary line is the dashboard's header, once: not repeated above the frame.
    assert html.escape(summary_line(run)) not in bundle["text/html"].split("<iframe")[0]
    header = DashboardRenderer().render(run).layout.select_one({"name": "summary_header"})
    assert html.escape(summary_line(run)) in header.text


def test_empty_run_renders_notices_instead_of_charts() -> None:
    run = bare_run(Recording())
    dashboard = DashboardRenderer().render(run)
    kinds = [type(child).__name__ for child in dashboard.layout.children]
    # The note field stays: a note on the whole run needs no chart.
    assert kinds == ["Div"] * 3 + ["Column"] + ["Div"] * 2
    page = report_html(run)
    assert "no CPU samples were recorded" in page and "no LLM requests recorded" in page


def test_timeline_and_token_rate_share_one_x_range() -> None:
    layout = DashboardRenderer().render(realistic_run()).layout
    timeline = layout.select_one({"name": "timeline"})
    rate = layout.select_one({"name": "token_rate"})
    assert timeline.x_range is rate.x_range
    assert timeline.x_range.end == 1200.0
