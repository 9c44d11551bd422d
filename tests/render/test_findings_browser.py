"""The findings panel in a real browser (Debian chromium), offline: a click on a finding zooms the run-clock
charts to its evidence, bands it on the timeline, outlines its flame frames, and shows its details; run
strings stay text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Dialog, Page

from tests.browser import open_offline_page, wait_for_bokeh
from workbench.render import report_html

from .test_findings_panel import IMG_LABEL, SCRIPT_TITLE, findings_run

pytestmark = pytest.mark.browser

STATE_JS = """
() => {
  const doc = Bokeh.documents[0];
  const r = doc.get_model_by_name('timeline').x_range;
  const band = doc.get_model_by_name('timeline_finding_band');
  const marks = doc.get_model_by_name('flame_finding_outline').data_source.data;
  return {
    start: r.start, end: r.end,
    selected: Array.from(doc.get_model_by_name('findings_rows').selected.indices),
    band_x0: Array.from(band.data_source.data.x0), band_x1: Array.from(band.data_source.data.x1),
    band_visible: band.visible,
    marked: Array.from(marks.function),
    detail: doc.get_model_by_name('findings_detail').text,
  };
}
"""

# Every <img>, and every <script> that is just the title's, in the page, shadow roots included: a title that
# became markup would add one. (Bokeh's embedded document JSON holds the title too, as data.)
INJECTED_JS = """
() => {
  let found = 0;
  const walk = (node) => {
    for (const el of node.querySelectorAll('*')) {
      if (el.tagName === 'IMG' || (el.tagName === 'SCRIPT' && el.textContent.trim() === 'alert(1)')) found++;
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return found;
}
"""


def _open_report(tmp_path: Path, chromium_executable: str) -> Any:
    path = tmp_path / "report.html"
    path.write_text(report_html(findings_run()), encoding="utf-8")
    return open_offline_page(path, chromium_executable)


def _record_dialogs(page: Page) -> list[str]:
    # A script that got in would call alert(1): record (and dismiss) any dialog.
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    return dialogs


def _click_row(page: Page, index: int) -> None:
    # SlickGrid draws the table's rows in the DataTable's shadow root; Playwright's CSS selectors pierce it.
    page.locator(".slick-row").nth(index).locator(".slick-cell").nth(2).click()


def test_clicking_a_finding_zooms_bands_and_outlines_its_evidence(
    tmp_path: Path, chromium_executable: str
) -> None:
    with _open_report(tmp_path, chromium_executable) as (page, blocked, errors):
        dialogs = _record_dialogs(page)
        wait_for_bokeh(page)
        page.locator(".slick-row").nth(2).wait_for()
        before = page.evaluate(STATE_JS)
        _click_row(page, 1)
        # BokehJS runs CustomJS callbacks asynchronously: wait for the outcome, not a fixed time.
        page.wait_for_function(
            "() => { const r = Bokeh.documents[0].get_model_by_name('timeline').x_range;"
            " return r.end < 1000; }",
            timeout=5000,
        )
        page.wait_for_function(
            "() => Bokeh.documents[0].get_model_by_name('flame_finding_outline')"
            ".data_source.data.function.length > 0",
            timeout=5000,
        )
        after = page.evaluate(STATE_JS)
        token_rate_end = page.evaluate("() => Bokeh.documents[0].get_model_by_name('token_rate').x_range.end")
        detail_text = page.get_by_text(
            "try: Batch the queries into one encode call.", exact=True
        ).inner_text()
        injected = page.evaluate(INJECTED_JS)
    assert blocked == [] and errors == [] and dialogs == []
    assert before["band_x0"] == [] and before["marked"] == []
    assert (before["start"], before["end"]) == (0.0, 1200.0)
    assert after["selected"] == [1]
    # The window covers the finding's two time pointers, 25-80 ms and 150-200 ms, with a margin.
    assert after["start"] <= 25.0 and 200.0 < after["end"] < 260.0
    assert token_rate_end == after["end"]  # one shared range: the other run-clock charts followed
    assert after["band_x0"] == [25.0, 150.0] and after["band_x1"] == [80.0, 200.0]
    assert after["band_visible"]
    # The flame graph's "encode" frame (the finding's frame pointer) is outlined, and nothing else.
    assert set(after["marked"]) == {"encode"}
    assert "Batch the queries into one encode call." in detail_text
    assert "batching 30 queries costs about one call" in after["detail"]
    assert "~120 ms (10% of the cell)" in after["detail"]
    assert injected == 0


def test_hostile_strings_show_as_text(tmp_path: Path, chromium_executable: str) -> None:
    with _open_report(tmp_path, chromium_executable) as (page, blocked, errors):
        dialogs = _record_dialogs(page)
        wait_for_bokeh(page)
        page.locator(".slick-row").nth(2).wait_for()
        row_text = page.locator(".slick-row").nth(2).inner_text()
        _click_row(page, 2)
        page.wait_for_function(
            "() => Bokeh.documents[0].get_model_by_name('findings_detail').text.includes('Rename')",
            timeout=5000,
        )
        page.get_by_text(f"try: Rename {IMG_LABEL}", exact=True).wait_for()
        injected = page.evaluate(INJECTED_JS)
    assert blocked == [] and errors == [] and dialogs == []
    assert SCRIPT_TITLE in row_text
    assert IMG_LABEL in row_text
    assert injected == 0
