"""The lab extension in Notebook 7 (`jupyter notebook`), in a real browser: a `%%fmprofile` cell run as usual
shows its live dashboard, then the static one; the notebook's toolbar carries the live indicator (Notebook 7
has no status bar) with the kernel's counters; the Profile button runs a cell under the magic without
editing it. The Runs sidebar needs JupyterLab's shell and is absent here.

Skipped when Notebook 7 or the built extension (src/workbench/labextension) is absent.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page

from tests.browser import chromium_page
from tests.jupyter_process import jupyter_server, with_lab_extension, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.kernel]

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
TOKEN = "workbench-nb7-test"
STATUS = ".fmp-StatusIndicator"
# ~5 s of streamed tokens, run with Shift+Enter.
TYPED_CELL = """%%fmprofile --name nb7
import time
import workbench as wb

with wb.llm_request(model="demo") as request:
    for _ in range(50):
        time.sleep(0.1)
        request.chunk(2)
"""
BUTTON_CELL = """import time
time.sleep(0.5)
"""
LIVE_JS = """() => typeof Bokeh !== 'undefined'
  && Bokeh.documents.some(doc => doc.get_model_by_name('live_summary') != null)"""
KERNEL_IDLE_JS = """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle' && document.querySelector('.jp-Notebook .jp-Cell') !== null; }"""


@pytest.fixture
def notebook7(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Notebook 7 with the built extension and the server extension, in a temp root (its own settings)."""
    if importlib.util.find_spec("notebook") is None:
        pytest.skip("Notebook 7 is not installed (`pip install -c constraints.txt 'notebook>=7'`)")
    root = tmp_path / "root"
    root.mkdir()
    # Both: the page lists the extension from the notebook app's path, but its files are served by
    # JupyterLab's handler (/lab/extensions/) when jupyterlab is installed too.
    env, extra = with_lab_extension(tmp_path, apps=("JupyterNotebookApp", "LabApp"))
    extra.append("--JupyterNotebookApp.expose_app_in_browser=True")
    with jupyter_server("notebook", root, TOKEN, tmp_path / "notebook.log", env, extra) as url:
        yield url, root


def _cell(page: Page, index: int) -> Locator:
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def _status(page: Page) -> dict[str, str]:
    return dict(
        page.evaluate(
            """sel => { const n = document.querySelector(sel), d = n.dataset;
              return {text: n.textContent, samples: d.samples ?? '0', tokens: d.outputTokens ?? '0',
                      tokensPerS: d.tokensPerS ?? '0'}; }""",
            STATUS,
        )
    )


def test_notebook7_live_dashboard_indicator_and_profile_button(
    notebook7: tuple[str, Path], chromium_executable: str
) -> None:
    url, root = notebook7
    write_notebook(
        root / "nb7.ipynb",
        [
            "%load_ext workbench",
            TYPED_CELL,
            BUTTON_CELL,
        ],
    )
    with chromium_page(chromium_executable, {"width": 1280, "height": 1000}) as (page, errors):
        page.goto(f"{url}/notebooks/nb7.ipynb?token={TOKEN}")
        page.wait_for_function(KERNEL_IDLE_JS, timeout=90_000)
        assert page.evaluate("() => window.jupyterapp.commands.hasCommand('fmprofile:profile-cell')")
        assert page.locator(".fmp-ProfileButton").count() == 1
        assert page.locator(".fmp-RunsPanel").count() == 0  # the sidebar needs JupyterLab's shell

        # `%load_ext`, then the `%%fmprofile` cell, each with Shift+Enter.
        _cell(page, 0).locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        page.keyboard.press("Shift+Enter")
        page.wait_for_selector(f"{STATUS}.fmp-mod-running", timeout=30_000)
        page.wait_for_function(LIVE_JS, timeout=60_000)  # the live dashboard, in the cell's output
        page.wait_for_function(
            "sel => Number(document.querySelector(sel).dataset.outputTokens || 0) > 0",
            arg=STATUS,
            timeout=30_000,
        )
        first = _status(page)
        page.wait_for_timeout(1200)
        later = _status(page)
        assert "fmprofile nb7" in later["text"] and "tok/s" in later["text"], later
        assert int(later["samples"]) > int(first["samples"]) and int(later["tokens"]) > int(first["tokens"])
        page.screenshot(path=str(DOCS / "lab-notebook7.png"))
        page.wait_for_selector(f"{STATUS}:not(.fmp-mod-running)", state="attached", timeout=120_000)
        _cell(page, 1).locator(".jp-OutputArea-output iframe").wait_for(timeout=60_000)
        assert (
            page.locator(
                ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.widget-view+json']"
            ).count()
            == 0
        )

        # The Profile button: the cell runs under the magic, its text unchanged, its dashboard below it.
        _cell(page, 2).locator(".jp-InputArea-editor").click()
        page.locator(".fmp-ProfileButton").click()
        _cell(page, 2).locator(".jp-OutputArea-output iframe").wait_for(timeout=120_000)
        source = page.evaluate(
            "() => window.jupyterapp.shell.currentWidget.content.widgets[2].model.sharedModel.getSource()"
        )
        assert source == BUTTON_CELL
        runs = sorted(p.name for p in (root / ".fmprofile" / "runs").iterdir())
        assert len(runs) == 2, runs

        # After a reload the kernel does not send BokehJS again: the live dashboard still shows (the
        # extension gives the page its BokehJS), and the dashboards already there paint.
        page.reload()
        page.wait_for_function(KERNEL_IDLE_JS, timeout=90_000)
        _cell(page, 1).locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        page.wait_for_function(LIVE_JS, timeout=60_000)
        page.wait_for_selector(f"{STATUS}:not(.fmp-mod-running)", state="attached", timeout=120_000)
        _cell(page, 1).locator(".jp-OutputArea-output iframe").wait_for(timeout=60_000)
        assert not [e for e in errors if "reading 'require'" in e or "Failed to create view" in e], errors
        # Notebook 7.6 itself raises this one on a fresh settings folder, with or without the extension.
        assert not [e for e in errors if "reading 'schema'" not in e], errors
