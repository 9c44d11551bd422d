"""The compare report in a real browser (Debian chromium), offline: it renders, and the diff flame zooms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser import open_offline_page, pixel_variance, wait_for_bokeh
from workbench.render.diff_report import compare_html

from .test_diff_report import _pair

pytestmark = pytest.mark.browser

STATE_JS = """
() => {
  const doc = Bokeh.documents[0];
  const f = doc.get_model_by_name('diff_flame');
  const d = doc.get_model_by_name('diff_flame_rects').data;
  return {start: f.x_range.start, end: f.x_range.end, functions: Array.from(d.function)};
}
"""

CENTRE_JS = """
(name) => {
  const doc = Bokeh.documents[0];
  const f = doc.get_model_by_name('diff_flame');
  const d = doc.get_model_by_name('diff_flame_rects').data;
  const i = d.function.indexOf(name);
  const view = Bokeh.index.find_one(f);
  const box = view.el.getBoundingClientRect();
  return {x: box.left + view.frame.x_scale.compute((d.x0[i] + d.x1[i]) / 2),
          y: box.top + view.frame.y_scale.compute(d.y[i]), x0: d.x0[i], x1: d.x1[i]};
}
"""


def test_compare_report_renders_offline_and_zooms(tmp_path: Path, chromium_executable: str) -> None:
    path = tmp_path / "compare.html"
    path.write_text(compare_html(*_pair()), encoding="utf-8")
    with open_offline_page(path, chromium_executable) as (page, blocked, errors):
        wait_for_bokeh(page)
        page.wait_for_timeout(300)
        before: dict[str, Any] = page.evaluate(STATE_JS)
        shot = tmp_path / "compare.png"
        page.screenshot(path=str(shot), full_page=True)
        target = page.evaluate(CENTRE_JS, "f")
        page.mouse.click(target["x"], target["y"])
        page.wait_for_function(
            "x0 => Math.abs(Bokeh.documents[0].get_model_by_name('diff_flame').x_range.start - x0) < 1e-9",
            arg=target["x0"],
            timeout=5000,
        )
        zoomed: dict[str, Any] = page.evaluate(STATE_JS)
    assert blocked == [] and errors == []
    assert (before["start"], before["end"]) == (0, 1) and {"f", "g", "h", "k"} <= set(before["functions"])
    assert (zoomed["start"], zoomed["end"]) == pytest.approx((target["x0"], target["x1"]))
    assert pixel_variance(shot.read_bytes()) > 100.0
