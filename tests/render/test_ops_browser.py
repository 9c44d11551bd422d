"""The op timeline in a real browser, offline: zooming shows finer levels, a click outlines the launch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bokeh.embed import file_html
from bokeh.resources import INLINE

from tests.browser import open_offline_page, wait_for_bokeh
from workbench.render.ops_plot import OpsTimelineRenderer
from workbench.render.ops_view import OpsTimelineView

from .ops_synthetic import bursty_table, ops_run

VISIBLE_JS = """() => {
  const doc = Bokeh.documents[0];
  const out = [];
  for (let k = 0; ; k++) {
    const r = doc.get_model_by_name('ops_blocks_' + k);
    if (r == null) return out;
    out.push(r.visible);
  }
}"""


def _page(tmp_path: Path) -> tuple[Path, Any]:
    run = ops_run(bursty_table())
    path = tmp_path / "ops.html"
    path.write_text(file_html(OpsTimelineRenderer().render(run), INLINE, "ops"), encoding="utf-8")
    return path, OpsTimelineView.from_run(run)


def test_zooming_in_shows_finer_levels(tmp_path: Path, chromium_executable: str) -> None:
    path, view = _page(tmp_path)
    assert len(view.levels) == 3
    with open_offline_page(path, chromium_executable) as (page, blocked, errors):
        wait_for_bokeh(page)
        before = page.evaluate(VISIBLE_JS)
        middle = (view.start_ms + view.end_ms) / 2
        width = view.end_ms - view.start_ms
        shown = []
        # 10x: past level 1's 8x, short of level 2's 64x; 100x: past it.
        for zoom, level in ((10, 1), (100, 2)):
            page.evaluate(
                "([s, e]) => { const r = Bokeh.documents[0].get_model_by_name('ops_timeline').x_range;"
                " r.setv({start: s, end: e}); }",
                [middle - width / zoom / 2, middle + width / zoom / 2],
            )
            # CustomJS callbacks run asynchronously in BokehJS 3: wait for the level to show.
            page.wait_for_function(f"() => ({VISIBLE_JS})()[{level}]")
            shown.append(page.evaluate(VISIBLE_JS))
    assert before == [True, False, False]
    assert shown == [[False, True, False], [False, False, True]]
    assert blocked == [] and errors == []


def test_clicking_a_kernel_outlines_its_launch(tmp_path: Path, chromium_executable: str) -> None:
    path, view = _page(tmp_path)
    columns = view.levels[0].columns
    kernel = int(next(i for i, c in enumerate(columns["category"]) if c == "kernel"))
    with open_offline_page(path, chromium_executable) as (page, _, errors):
        wait_for_bokeh(page)
        page.evaluate(
            "(i) => { Bokeh.documents[0].get_model_by_name('ops_level_0').selected.indices = [i]; }", kernel
        )
        # CustomJS callbacks run asynchronously in BokehJS 3: wait for the highlight to be filled.
        page.wait_for_function("() => Bokeh.documents[0].get_model_by_name('ops_launch').data.x0.length > 0")
        boxes = page.evaluate(
            "() => { const h = Bokeh.documents[0].get_model_by_name('ops_launch').data;"
            " return {what: [...h.what], x0: [...h.x0], top: [...h.top]}; }"
        )
    assert boxes["what"] == ["launcher", "runtime"]
    assert boxes["x0"] == [columns["launcher_x0"][kernel], columns["runtime_x0"][kernel]]
    assert errors == []
