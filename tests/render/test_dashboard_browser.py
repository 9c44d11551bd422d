"""The drawn dashboard in a real browser (Debian chromium), offline: it renders, and the flame graph zooms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Frame as PageFrame
from playwright.sync_api import Page

from tests.browser import open_offline_page, pixel_variance, wait_for_bokeh
from workbench.model import Frame, Recording, StackSample
from workbench.render import notebook_bundle, report_html
from workbench.render.breakdown_view import BreakdownView
from workbench.render.request_view import WaterfallView
from workbench.render.stage_view import StageView

from .synthetic import MS, bare_run, http_run, realistic_run

pytestmark = pytest.mark.browser

REQUEST_PLOTS = ["requests_in_flight", "request_waterfall", "request_breakdown"]
PLOT_NAMES = ["flame", "timeline", "token_rate", "request_ttft_ms", "request_tpot_ms", *REQUEST_PLOTS]
# The HTTP run has no CPU samples: no flame graph, a notice in its place.
HTTP_PLOT_NAMES = [name for name in PLOT_NAMES if name != "flame"]

# Canvases live in Bokeh's shadow DOM, out of reach of querySelectorAll on the document.
PLOTS_JS = """
() => {
  const canvases = (root) => {
    const found = [];
    const walk = (node) => {
      for (const el of node.querySelectorAll('*')) {
        if (el.tagName === 'CANVAS' && el.width > 0 && el.height > 0) found.push(el);
        if (el.shadowRoot) walk(el.shadowRoot);
      }
    };
    walk(root);
    return found.length;
  };
  const doc = Bokeh.documents[0];
  const plots = Array.from(doc._all_models.values()).filter(m => m.type === 'Figure' || m.type === 'Plot');
  return plots.map(m => {
    const view = Bokeh.index.find_one(m);
    return {name: m.name, canvases: view && view.shadow_el ? canvases(view.shadow_el) : 0};
  });
}
"""

FLAME_JS = """
() => {
  const f = Bokeh.documents[0].get_model_by_name('flame');
  const d = Bokeh.documents[0].get_model_by_name('flame_rects').data;
  const labels = Bokeh.documents[0].get_model_by_name('flame_labels').data.text;
  return {start: f.x_range.start, end: f.x_range.end, n: d.x0.length, labels: Array.from(labels)};
}
"""

# Page coordinates of the centre of the flame frame named `name`, from the plot's own scales.
FRAME_CENTRE_JS = """
(name) => {
  const f = Bokeh.documents[0].get_model_by_name('flame');
  const d = Bokeh.documents[0].get_model_by_name('flame_rects').data;
  const i = d.function.indexOf(name);
  const view = Bokeh.index.find_one(f);
  const box = view.el.getBoundingClientRect();
  const x = (Math.max(d.x0[i], f.x_range.start) + Math.min(d.x1[i], f.x_range.end)) / 2;
  return {x: box.left + view.frame.x_scale.compute(x), y: box.top + view.frame.y_scale.compute(d.y[i]),
          x0: d.x0[i], x1: d.x1[i]};
}
"""


def _write(tmp_path: Path, page_html: str, name: str = "report.html") -> Path:
    path = tmp_path / name
    path.write_text(page_html, encoding="utf-8")
    return path


def _click_frame(page: Page, function: str) -> dict[str, float]:
    # Two clicks within Bokeh's double-tap interval would be read as one double tap.
    page.wait_for_timeout(400)
    centre: dict[str, float] = page.evaluate(FRAME_CENTRE_JS, function)
    page.mouse.click(centre["x"], centre["y"])
    return centre


def _wait_for_range(page: Page, start: float, end: float) -> dict[str, Any]:
    page.wait_for_function(
        "([s, e]) => { const r = Bokeh.documents[0].get_model_by_name('flame').x_range;"
        " return Math.abs(r.start - s) < 1e-9 && Math.abs(r.end - e) < 1e-9; }",
        arg=[start, end],
        timeout=5000,
    )
    state: dict[str, Any] = page.evaluate(FLAME_JS)
    return state


def test_report_renders_offline_with_every_plot(tmp_path: Path, chromium_executable: str) -> None:
    path = _write(tmp_path, report_html(realistic_run()))
    with open_offline_page(path, chromium_executable) as (page, blocked, errors):
        wait_for_bokeh(page)
        page.wait_for_timeout(300)
        plots = page.evaluate(PLOTS_JS)
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        title = page.title()
        summary = page.inner_text("pre.wb-summary")
    assert blocked == []
    assert errors == []
    assert sorted(p["name"] for p in plots) == sorted(PLOT_NAMES)
    assert all(p["canvases"] > 0 for p in plots), plots
    assert title == "FM Workbench — rag-v2"
    assert "torch: torch is not installed" in summary
    assert pixel_variance(shot.read_bytes()) > 100.0


def test_clicking_a_flame_frame_zooms_and_the_root_zooms_out(
    tmp_path: Path, chromium_executable: str
) -> None:
    path = _write(tmp_path, report_html(realistic_run()))
    with open_offline_page(path, chromium_executable) as (page, blocked, errors):
        wait_for_bokeh(page)
        page.wait_for_timeout(300)
        before = page.evaluate(FLAME_JS)
        target = _click_frame(page, "retrieve")
        zoomed = _wait_for_range(page, target["x0"], target["x1"])
        _click_frame(page, "cell")
        reset = _wait_for_range(page, 0.0, 1.0)
    assert (before["start"], before["end"]) == (0, 1)
    assert 0 < zoomed["start"] < zoomed["end"] < 1
    # Zoomed in, the frames inside "retrieve" are wide enough to be labelled in full.
    assert {"retrieve", "encode", "search"} <= set(zoomed["labels"])
    assert "search" not in before["labels"]
    assert (reset["start"], reset["end"]) == (0, 1)
    assert blocked == [] and errors == []


def test_zoom_callback_runs_from_the_js_api(tmp_path: Path, chromium_executable: str) -> None:
    path = _write(tmp_path, report_html(realistic_run()))
    with open_offline_page(path, chromium_executable) as (page, _, errors):
        wait_for_bokeh(page)
        frame = page.evaluate(
            "() => { const s = Bokeh.documents[0].get_model_by_name('flame_rects');"
            " const i = s.data.function.indexOf('generate'); s.selected.indices = [i];"
            " return [s.data.x0[i], s.data.x1[i]]; }"
        )
        state = _wait_for_range(page, frame[0], frame[1])
        selected = page.evaluate(
            "() => Bokeh.documents[0].get_model_by_name('flame_rects').selected.indices.length"
        )
    assert selected == 0  # the selection is cleared, so nothing stays faded
    assert state["start"] == pytest.approx(frame[0])
    assert errors == []


def _run_with_fine_detail() -> Any:
    rec = Recording()
    top = Frame("busy", "/src/app.py", 1)
    narrow = Frame("narrow", "/src/app.py", 2)
    rec.add_sample(StackSample(0, 1, rec.intern_stack([top]), 980 * MS))
    # 25 children of 0.8 ms in 1000 ms: shares of 8e-4, below the overview's level of detail.
    for k in range(25):
        stack = rec.intern_stack([narrow, Frame(f"k{k}", "/src/leaf.py", k)])
        rec.add_sample(StackSample(0, 1, stack, 800_000))
    return bare_run(rec)


def test_zooming_into_a_narrow_frame_shows_the_finer_detail(tmp_path: Path, chromium_executable: str) -> None:
    path = _write(tmp_path, report_html(_run_with_fine_detail()))
    with open_offline_page(path, chromium_executable) as (page, blocked, errors):
        wait_for_bokeh(page)
        page.wait_for_timeout(300)
        before = page.evaluate(FLAME_JS)
        target = _click_frame(page, "narrow")
        zoomed = _wait_for_range(page, target["x0"], target["x1"])
        _click_frame(page, "cell")
        reset = _wait_for_range(page, 0.0, 1.0)
    assert zoomed["n"] == before["n"] + 25
    assert {"k0", "k24"} <= set(zoomed["labels"])
    assert reset["n"] == before["n"]
    assert blocked == [] and errors == []


def test_timeline_and_token_rate_zoom_together(tmp_path: Path, chromium_executable: str) -> None:
    path = _write(tmp_path, report_html(realistic_run()))
    with open_offline_page(path, chromium_executable) as (page, _, errors):
        wait_for_bokeh(page)
        ranges = page.evaluate(
            "() => { const doc = Bokeh.documents[0];"
            " doc.get_model_by_name('timeline').x_range.setv({start: 300, end: 700});"
            " const r = doc.get_model_by_name('token_rate').x_range; return [r.start, r.end]; }"
        )
    assert ranges == [300, 700]
    assert errors == []


def _bokeh_frame(page: Page) -> PageFrame:
    frames = [f for f in page.frames if f is not page.main_frame]
    assert len(frames) == 1
    return frames[0]


def test_notebook_bundle_renders_in_its_iframe_offline(tmp_path: Path, chromium_executable: str) -> None:
    bundle = notebook_bundle(realistic_run())
    # Roughly what nbconvert's HTML does with a text/html output: the markup, verbatim, in a page.
    page_html = f"<!DOCTYPE html><html><body><h1>notebook</h1>{bundle['text/html']}</body></html>"
    path = _write(tmp_path, page_html, "notebook.html")
    with open_offline_page(path, chromium_executable) as (page, blocked, errors):
        frame = _bokeh_frame(page)
        frame.wait_for_function(
            "() => window.Bokeh !== undefined && Bokeh.index.roots.length > 0", timeout=20_000
        )
        page.wait_for_timeout(300)
        plots = frame.evaluate(PLOTS_JS)
        content_px = frame.evaluate("() => document.documentElement.scrollHeight")
        iframe_px = page.evaluate("() => document.querySelector('iframe').getBoundingClientRect().height")
        outside = page.inner_text("div.fm-workbench-output")
        # The header Div draws in Bokeh's shadow DOM, out of reach of inner_text.
        inside = frame.evaluate(
            "() => Bokeh.index.find_one(Bokeh.documents[0].get_model_by_name('summary_header'))"
            ".shadow_el.textContent"
        ) + frame.inner_text("body")
    assert blocked == [] and errors == []
    assert len(plots) == len(PLOT_NAMES) and all(p["canvases"] > 0 for p in plots)
    # The summary line once: in the dashboard's header, not again above the frame.
    assert "rag-v2: 1.200 s wall" not in outside
    assert inside.count("rag-v2: 1.200 s wall") == 1
    # The iframe is tall enough for the whole dashboard, with little left over.
    assert content_px <= iframe_px
    assert iframe_px - content_px < 200


# Rows each named data source holds in the page, and the drawn height of the table panels.
PANELS_JS = """
() => {
  const doc = Bokeh.documents[0];
  const rows = (name) => {
    const m = doc.get_model_by_name(name);
    return m ? m.data[Object.keys(m.data)[0]].length : null;
  };
  const height = (name) => {
    const m = doc.get_model_by_name(name);
    const view = m && Bokeh.index.find_one(m);
    return view ? view.el.getBoundingClientRect().height : 0;
  };
  const names = ['waterfall_requests', 'waterfall_segments', 'waterfall_failed', 'waterfall_markers',
                 'timeline_critical_path', 'in_flight_series', 'breakdown_parse', 'breakdown_decode'];
  return {rows: Object.fromEntries(names.map(n => [n, rows(n)])),
          heights: {stage_table: height('stage_table'), model_table: height('model_table')}};
}
"""

# Viewport coordinates of the centre of request `id`'s first waterfall segment.
SEGMENT_CENTRE_JS = """
(id) => {
  const doc = Bokeh.documents[0];
  const f = doc.get_model_by_name('request_waterfall');
  const d = doc.get_model_by_name('waterfall_segments').data;
  const i = Array.from(d.request_id).indexOf(id);
  const view = Bokeh.index.find_one(f);
  const box = view.el.getBoundingClientRect();
  const x = (d.start_ms[i] + d.end_ms[i]) / 2, y = (d.top[i] + d.bottom[i]) / 2;
  return {x: box.left + view.frame.x_scale.compute(x), y: box.top + view.frame.y_scale.compute(y)};
}
"""


def test_http_report_renders_the_request_and_stage_panels_offline(
    tmp_path: Path, chromium_executable: str
) -> None:
    run = http_run()
    path = _write(tmp_path, report_html(run))
    with open_offline_page(path, chromium_executable) as (page, blocked, errors):
        wait_for_bokeh(page)
        page.wait_for_timeout(300)
        plots = page.evaluate(PLOTS_JS)
        panels = page.evaluate(PANELS_JS)
        model_table = page.get_by_text("LLM requests per model").count()
        estimate = page.get_by_text("estimated: 140.0 ms could be saved if 3 independent").count()
        shot = tmp_path / "http.png"
        page.screenshot(path=str(shot), full_page=True)
    assert blocked == [] and errors == []
    assert sorted(p["name"] for p in plots) == sorted(HTTP_PLOT_NAMES)
    assert all(p["canvases"] > 0 for p in plots), plots
    waterfall = WaterfallView.from_run(run)
    assert panels["rows"] == {
        "waterfall_requests": 6,
        "waterfall_segments": len(waterfall.segments),
        "waterfall_failed": 1,
        "waterfall_markers": len(waterfall.markers),
        "timeline_critical_path": len(StageView.from_run(run).segments),
        "in_flight_series": 13,
        "breakdown_parse": 1,
        "breakdown_decode": len(BreakdownView.from_run(run).bar_columns("decode")["label"]),
    }
    assert panels["heights"]["stage_table"] > 100 and panels["heights"]["model_table"] > 80
    assert model_table == 1
    assert estimate == 2  # in the stage table, and in the plain-text summary below the dashboard
    assert pixel_variance(shot.read_bytes()) > 100.0


def test_waterfall_and_requests_in_flight_zoom_with_the_timeline(
    tmp_path: Path, chromium_executable: str
) -> None:
    path = _write(tmp_path, report_html(http_run()))
    with open_offline_page(path, chromium_executable) as (page, _, errors):
        wait_for_bokeh(page)
        ranges = page.evaluate(
            "() => { const doc = Bokeh.documents[0];"
            " doc.get_model_by_name('timeline').x_range.setv({start: 200, end: 450});"
            " return ['request_waterfall', 'requests_in_flight'].map(n => {"
            " const r = doc.get_model_by_name(n).x_range; return [r.start, r.end]; }); }"
        )
    assert ranges == [[200, 450], [200, 450]]
    assert errors == []


def test_hovering_a_failed_request_shows_its_error(tmp_path: Path, chromium_executable: str) -> None:
    path = _write(tmp_path, report_html(http_run()))
    with open_offline_page(path, chromium_executable) as (page, _, errors):
        wait_for_bokeh(page)
        page.wait_for_timeout(300)
        before = page.get_by_text("ReadTimeout: timed out").count()
        centre = page.evaluate(SEGMENT_CENTRE_JS, 6)
        page.evaluate("(y) => window.scrollBy(0, y - 400)", centre["y"])
        centre = page.evaluate(SEGMENT_CENTRE_JS, 6)
        page.mouse.move(centre["x"], centre["y"])
        page.get_by_text("ReadTimeout: timed out").first.wait_for(timeout=5000)
        status = page.get_by_text("status failed").count()
    assert before == 0
    assert status >= 1
    assert errors == []


def test_http_run_notebook_bundle_fits_its_iframe(tmp_path: Path, chromium_executable: str) -> None:
    bundle = notebook_bundle(http_run())
    page_html = f"<!DOCTYPE html><html><body><h1>notebook</h1>{bundle['text/html']}</body></html>"
    path = _write(tmp_path, page_html, "notebook.html")
    with open_offline_page(path, chromium_executable) as (page, blocked, errors):
        frame = _bokeh_frame(page)
        frame.wait_for_function(
            "() => window.Bokeh !== undefined && Bokeh.index.roots.length > 0", timeout=20_000
        )
        page.wait_for_timeout(300)
        plots = frame.evaluate(PLOTS_JS)
        content_px = frame.evaluate("() => document.documentElement.scrollHeight")
        iframe_px = page.evaluate("() => document.querySelector('iframe').getBoundingClientRect().height")
    assert blocked == [] and errors == []
    assert sorted(p["name"] for p in plots) == sorted(HTTP_PLOT_NAMES)
    assert content_px <= iframe_px
    assert iframe_px - content_px < 200
