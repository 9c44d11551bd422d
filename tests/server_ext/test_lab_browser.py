"""The JupyterLab extension in a real browser: "Profile cell" runs a cell under %%fmprofile without editing
it, the status bar shows it running, the Runs sidebar lists the run, opens its report and compares two runs.

Skipped when the built extension (src/workbench/labextension, made by `make lab`) is absent.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Frame, Page, sync_playwright

from tests.browser import CHROMIUM_ARGS
from tests.jupyter_process import jupyter_server, quiet_lab_settings

pytestmark = [pytest.mark.browser, pytest.mark.kernel]

ROOT = Path(__file__).resolve().parents[2]
BUILT = ROOT / "src" / "workbench" / "labextension"
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


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """JupyterLab with the built extension and the server extension, in a temp root (its own settings)."""
    if not (BUILT / "package.json").is_file():
        pytest.skip(f"the JupyterLab extension is not built ({BUILT}); `make lab` builds it")
    root, labext, config = tmp_path / "root", tmp_path / "labextensions", tmp_path / "config"
    for folder in (root, labext, config):
        folder.mkdir()
    # JupyterLab names a prebuilt extension's folder after its package.
    (labext / "fm-workbench-lab").symlink_to(BUILT)
    quiet_lab_settings(tmp_path / "settings")
    server_config = {"ServerApp": {"jpserver_extensions": {"workbench.server_ext": True}}}
    (config / "jupyter_server_config.json").write_text(json.dumps(server_config))
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
    }
    env.pop("WORKBENCH_STORE", None)  # the kernel saves beside the notebook, where the sidebar looks
    extra = [
        f"--LabApp.extra_labextensions_path={labext}", "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
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


def _profile_cell(page: Page) -> None:
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.locator(".fmp-ProfileButton").first.click()


def test_profile_cell_sidebar_report_and_compare(lab: tuple[str, Path], chromium_executable: str) -> None:
    url, root = lab
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(CELL)]
    # With a kernelspec, JupyterLab starts the kernel instead of asking which one.
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / "lab.ipynb")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
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

            # A second run, then the comparison of the two.
            page.locator(".jp-mod-current.lm-TabBar-tab, .lm-DockPanel-tabBar .lm-TabBar-tab").filter(
                has_text="lab.ipynb"
            ).first.click()
            _profile_cell(page)
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
        finally:
            browser.close()
