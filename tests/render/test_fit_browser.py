"""The notebook output fits its page (real Chromium, offline): at a 1280 px window with JupyterLab's file
browser open (an 828 px output area) and with the output as wide as the window, no dashboard part is
clipped: every Bokeh layout box, table and chart title, and the plain-text summary, fits its width; the
frame is as tall as its content, so nothing is cut at its bottom."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser import open_offline_page
from workbench.model.run import Run
from workbench.render import notebook_bundle

from .synthetic import http_run, realistic_run
from .test_findings_panel import findings_run

pytestmark = pytest.mark.browser

RUNS: dict[str, Callable[[], Run]] = {"realistic": realistic_run, "http": http_run, "findings": findings_run}
# The output area's width: JupyterLab at 1280 px with its file browser open, and a full-width output.
WIDTHS = [828, None]

# Inside the frame: every part's scrollWidth against its clientWidth, and what would be cut vertically.
MEASURE_JS = """
() => {
  const parts = [];
  const pageWidth = document.documentElement.clientWidth;
  const add = (what, el, vertical) => {
    const box = el.getBoundingClientRect();
    parts.push({what, scroll: el.scrollWidth, client: el.clientWidth,
                clipped: el.scrollWidth > el.clientWidth + 1 || box.right > pageWidth + 1
                         || (vertical && el.scrollHeight > el.clientHeight + 1)});
  };
  const ctx = document.createElement('canvas').getContext('2d');
  const titleWidth = (t) => {
    ctx.font = `${t.text_font_style} ${t.text_font_size} ${t.text_font}`;
    return Math.max(...String(t.text).split('\\n').map(line => ctx.measureText(line).width));
  };
  const visit = (view) => {
    const m = view.model;
    const name = `${m.type}:${m.name || ''}`;
    if (view.el) add(name, view.el, m.type === 'Div');
    if (view.shadow_el) {
      for (const table of view.shadow_el.querySelectorAll('table')) {
        add(name + ' table', table.parentElement, false);
      }
      for (const port of view.shadow_el.querySelectorAll('.slick-viewport')) {
        if (port.clientWidth > 0) add(name + ' grid', port, false);
      }
    }
    if (m.type === 'Figure') {
      // A title on the canvas starts at the frame's left edge and does not wrap.
      const width = view.el.clientWidth, left = view.frame.bbox.left;
      for (const t of [m.title, ...m.above, ...m.below].filter(t => t && t.type === 'Title')) {
        const right = left + titleWidth(t);
        parts.push({what: name + ' title', scroll: Math.ceil(right), client: width, clipped: right > width});
      }
      parts.push({what: name + ' plot area', scroll: Math.round(view.frame.bbox.width), client: width,
                  clipped: view.frame.bbox.width < 0.45 * width});
    }
    for (const child of (view.child_views || [])) visit(child);
  };
  for (const root of Bokeh.index.roots) visit(root);
  for (const pre of document.querySelectorAll('pre.wb-summary')) add('pre.wb-summary', pre, false);
  add('page', document.documentElement, false);
  return {parts, content: Math.ceil(document.body.getBoundingClientRect().height),
          scroll_height: document.documentElement.scrollHeight};
}
"""


def _page(tmp_path: Path, run: Run, width: int | None, name: str) -> Path:
    bundle = notebook_bundle(run)
    style = f"width: {width}px" if width else "width: 100%"
    page = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin: 0">'
        f'<div class="jp-OutputArea-output" style="{style}">{bundle["text/html"]}</div></body></html>'
    )
    path = tmp_path / f"{name}.html"
    path.write_text(page, encoding="utf-8")
    return path


def _measure(path: Path, chromium_executable: str) -> tuple[dict[str, Any], float, list[str]]:
    with open_offline_page(path, chromium_executable, {"width": 1280, "height": 900}) as (
        page,
        blocked,
        errors,
    ):
        frame = next(f for f in page.frames if f is not page.main_frame)
        frame.wait_for_function(
            "() => window.Bokeh !== undefined && Bokeh.index.roots.length > 0", timeout=20_000
        )
        # The frame takes its content's height once the document is drawn.
        page.wait_for_function(
            "() => { const f = document.querySelector('iframe');"
            " const body = f.contentDocument && f.contentDocument.body;"
            " return body && Math.abs(f.clientHeight - body.getBoundingClientRect().height) <= 1; }",
            timeout=10_000,
        )
        page.wait_for_timeout(300)
        measured: dict[str, Any] = frame.evaluate(MEASURE_JS)
        frame_px: float = page.evaluate("() => document.querySelector('iframe').clientHeight")
    assert blocked == []
    return measured, frame_px, errors


@pytest.mark.parametrize("width", WIDTHS, ids=["828px", "full-1280px"])
@pytest.mark.parametrize("run_name", list(RUNS))
def test_no_dashboard_part_is_clipped(
    tmp_path: Path, chromium_executable: str, run_name: str, width: int | None
) -> None:
    path = _page(tmp_path, RUNS[run_name](), width, run_name)
    measured, frame_px, errors = _measure(path, chromium_executable)
    assert errors == []
    clipped = [p for p in measured["parts"] if p["clipped"]]
    assert clipped == [], clipped
    names = {p["what"] for p in measured["parts"]}
    assert "pre.wb-summary" in names and "Figure:timeline title" in names
    if run_name == "findings":
        assert "DataTable:findings_table grid" in names
    # Nothing is cut at the frame's bottom: the frame is as tall as what it holds.
    assert measured["scroll_height"] <= frame_px + 1
    assert abs(measured["content"] - frame_px) <= 1


def test_charts_stretch_to_the_output_width(tmp_path: Path, chromium_executable: str) -> None:
    path = _page(tmp_path, realistic_run(), 828, "stretch")
    measured, _, _ = _measure(path, chromium_executable)
    areas = {p["what"]: p for p in measured["parts"] if p["what"].endswith("plot area")}
    # The run-clock charts: 130 px of row labels on the left, 40 px on the right, the rest is the plot.
    for name in ("flame", "timeline", "token_rate", "request_waterfall"):
        area = areas[f"Figure:{name} plot area"]
        assert area["scroll"] >= area["client"] - 200, area
