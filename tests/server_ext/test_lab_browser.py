"""The JupyterLab extension in a real browser: "Profile cell" runs a cell under %%fmprofile without editing
it, the status bar shows it running, and with the kernel's live counters (tokens/s, samples) when a
`%%fmprofile` cell is run as usual; the Runs sidebar lists the runs, opens a report and compares two runs.

Skipped when the built extension (src/workbench/labextension, made by `make lab`) is absent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Frame, Page

from tests.browser import chromium_page
from tests.jupyter_process import jupyter_server, with_lab_extension, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.kernel]

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
TOKEN = "workbench-lab-test"
# About 2 s: long enough to see the status-bar indicator while it runs.
CELL = """import time
import workbench as wb

with wb.llm_request(model="demo") as request:
    for _ in range(20):
        time.sleep(0.1)
        request.chunk(2)
"""
# A `%%fmprofile` cell the user runs with Shift+Enter: ~5 s of streamed tokens for the status bar.
TYPED_CELL = """%%fmprofile --name typed
import time
import workbench as wb

with wb.llm_request(model="demo") as request:
    for _ in range(50):
        time.sleep(0.1)
        request.chunk(2)
"""
STATUS = ".fmp-StatusIndicator"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """JupyterLab with the built extension and the server extension, in a temp root (its own settings)."""
    root = tmp_path / "root"
    root.mkdir()
    env, extra = with_lab_extension(tmp_path)
    extra += [
        "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    with jupyter_server("jupyterlab", root, TOKEN, tmp_path / "lab.log", env, extra) as url:
        yield url, root


def _frame(page: Page, part: str, timeout_s: float = 60) -> Frame:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for frame in page.frames:
            if part in frame.url:
                return frame
        page.wait_for_timeout(200)
    raise AssertionError(f"no frame with {part!r}: {[f.url for f in page.frames]}")


def _wait_bokeh(frame: Frame) -> None:
    ready = "() => window.Bokeh !== undefined && Bokeh.index.roots.length >= 1"
    frame.wait_for_function(ready, timeout=60_000)


def _wait_until(condition: Callable[[], bool], timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


def _status(page: Page) -> dict[str, str | None]:
    return dict(
        page.evaluate(
            """sel => { const n = document.querySelector(sel), d = n.dataset;
              return {text: n.textContent, title: n.title, samples: d.samples ?? null,
                      tokensPerS: d.tokensPerS ?? null, tokens: d.outputTokens ?? null}; }""",
            STATUS,
        )
    )


def _run_typed_cell_and_check_status(page: Page) -> None:
    cell = page.locator(".jp-Notebook .jp-Cell").nth(1)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_selector(f"{STATUS}.fmp-mod-running", timeout=30_000)
    page.wait_for_function(
        "sel => Number(document.querySelector(sel).dataset.outputTokens || 0) > 0", arg=STATUS, timeout=30_000
    )
    first = _status(page)
    page.wait_for_timeout(1500)
    later = _status(page)
    assert "fmprofile typed" in str(later["text"]), later
    assert "tok/s" in str(later["text"]) and "samples" in str(later["text"]), later
    assert float(str(later["tokensPerS"])) > 0, later
    assert int(str(later["samples"])) > int(str(first["samples"])), (first, later)
    assert int(str(later["tokens"])) > int(str(first["tokens"])), (first, later)
    # The live dashboard is in the cell's output meanwhile; the status bar with the live counters.
    cell.evaluate("node => node.scrollIntoView({block: 'end'})")
    viewport = page.viewport_size or {"width": 1400, "height": 1000}
    page.screenshot(
        path=str(DOCS / "lab-statusbar.png"),
        clip={"x": 0, "y": viewport["height"] - 420, "width": viewport["width"], "height": 420},
    )
    # A click on the indicator shows the cell's output.
    page.locator(STATUS).click()
    page.wait_for_selector(f"{STATUS}:not(.fmp-mod-running)", state="attached", timeout=120_000)
    cell.locator(".jp-OutputArea iframe").wait_for(timeout=30_000)


def _profile_cell(page: Page) -> None:
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.locator(".fmp-ProfileButton").first.click()


def test_profile_cell_sidebar_report_and_compare(lab: tuple[str, Path], chromium_executable: str) -> None:
    url, root = lab
    write_notebook(root / "lab.ipynb", [CELL, TYPED_CELL])
    with chromium_page(chromium_executable, {"width": 1400, "height": 1000}) as (page, errors):
        page.goto(f"{url}/lab/tree/lab.ipynb?token={TOKEN}")
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
        assert page.locator(".jp-Dialog").count() == 0, page.locator(".jp-Dialog").inner_text()

        _profile_cell(page)
        page.wait_for_selector(".fmp-StatusIndicator.fmp-mod-running", timeout=30_000)
        # The profiled cell's dashboard appears in the cell's own output; the cell's text is unchanged.
        page.wait_for_selector(".fmp-StatusIndicator:not(.fmp-mod-running)", timeout=120_000)
        output = page.locator(".jp-Cell .jp-OutputArea").first
        assert output.locator("iframe").count() == 1, output.inner_text()[:2000]
        source = page.evaluate(
            "() => window.jupyterapp.shell.currentWidget.content.widgets[0].model.sharedModel.getSource()"
        )
        assert source == CELL
        page.wait_for_timeout(500)
        page.screenshot(path=str(DOCS / "lab-profile-cell.png"))

        page.locator(".jp-SideBar [data-id='fmprofile-runs']").click()
        page.wait_for_selector(".fmp-RunRow.fmp-status-ok", timeout=30_000)
        assert page.locator(".fmp-RunRow").count() == 1
        page.locator(".fmp-RunRow .fmp-action-report").first.click()
        _wait_bokeh(_frame(page, "/fmprofile/api/runs/"))

        # A second run, of a `%%fmprofile` cell run as usual: the status bar shows the kernel's live
        # counters, growing while the cell streams; then the comparison of the two runs.
        page.locator(".jp-mod-current.lm-TabBar-tab, .lm-DockPanel-tabBar .lm-TabBar-tab").filter(
            has_text="lab.ipynb"
        ).first.click()
        _run_typed_cell_and_check_status(page)
        page.wait_for_function("() => document.querySelectorAll('.fmp-RunRow.fmp-status-ok').length == 2")
        for checkbox in page.locator(".fmp-RunRow input[type=checkbox]").all():
            checkbox.check()
        page.locator(".fmp-compare").click()
        _wait_bokeh(_frame(page, "/fmprofile/api/compare"))
        page.wait_for_timeout(500)
        page.screenshot(path=str(DOCS / "lab-sidebar-compare.png"))

        # A note on the newest run lands in its run.json; deleting the oldest asks first.
        newest = page.locator(".fmp-RunRow").first
        newest_id = newest.get_attribute("data-run-id")
        newest.locator(".fmp-action-note").click()
        page.locator(".jp-Dialog input").fill("slow retrieval")
        page.locator(".jp-Dialog .jp-mod-accept").click()
        run_json = root / ".fmprofile" / "runs" / str(newest_id) / "run.json"
        _wait_until(lambda: "slow retrieval" in run_json.read_text())
        oldest = page.locator(".fmp-RunRow").nth(1)
        oldest_id = str(oldest.get_attribute("data-run-id"))
        oldest.locator(".fmp-action-delete").click()
        page.locator(".jp-Dialog .jp-mod-warn").click()
        page.wait_for_function("() => document.querySelectorAll('.fmp-RunRow').length == 1")
        assert not (root / ".fmprofile" / "runs" / oldest_id).exists()
        assert not errors, errors
