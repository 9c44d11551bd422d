"""The notebook view never misbehaves, in JupyterLab in a real browser: the live view after a reload and in
a second tab, the kernel Busy for the whole profiled cell, no output in a later plain cell, and the
dashboards of a notebook whose first dashboard output (the one that carries BokehJS) was cleared."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser import CHROMIUM_ARGS, open_lab_notebook
from tests.jupyter_process import jupyter_server, with_lab_extension, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.kernel]

TOKEN = "workbench-view-test"
# ~3 s of streamed tokens: long enough to see the live view and to watch the kernel's status.
LIVE_CELL = """%%fmprofile --name {name}
import time
import workbench as wb

with wb.llm_request(model="demo") as request:
    for _ in range(30):
        time.sleep(0.1)
        request.chunk(2)
"""
SHORT_CELL = "%%fmprofile --name short-{i}\nsum(i * i for i in range(100_000))"
PLAIN_CELL = "import gc\ngc.collect()\nNone"
CELLS = [
    "%load_ext workbench",
    LIVE_CELL.format(name="live"),
    *(SHORT_CELL.format(i=i) for i in range(3)),
    PLAIN_CELL,
]

# A live view (jupyter_bokeh's widget) drawn in this page: its summary model has a view in the DOM.
LIVE_SHOWN_JS = """
() => {
  if (typeof Bokeh === 'undefined') return false;
  for (const doc of Bokeh.documents) {
    const summary = doc.get_model_by_name('live_summary');
    const view = summary && Bokeh.index.find_one(summary);
    if (view && view.el.isConnected) return true;
  }
  return false;
}
"""
# Canvases drawn in each dashboard output's frame (Bokeh's are in shadow roots), and whether the output
# shows its static picture instead.
OUTPUTS_JS = """
() => Array.from(document.querySelectorAll('div.fm-workbench-output')).map(box => {
  const frame = box.querySelector('iframe');
  const win = frame && frame.contentWindow;
  let canvases = 0;
  const walk = (node) => {
    for (const el of node.querySelectorAll('*')) {
      if (el.tagName === 'CANVAS' && el.width > 0) canvases++;
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  if (win && win.document && frame.style.display !== 'none') walk(win.document);
  const line = box.querySelector('.fmwb-no-bokeh');
  return {canvases, fallback: !!(line && line.style.display !== 'none')};
})
"""


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "root"
    root.mkdir()
    env, extra = with_lab_extension(tmp_path)
    extra += [
        "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    with jupyter_server("jupyterlab", root, TOKEN, tmp_path / "lab.log", env, extra) as url:
        yield url, root


@pytest.fixture
def browser(chromium_executable: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def _open(browser: Browser, url: str, errors: list[str]) -> Page:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    open_lab_notebook(page, url, ".jp-Notebook .jp-Cell")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    return page


def _run_cell(page: Page, index: int) -> None:
    """Select cell `index` and run it (not awaited: the command settles when the cell has run)."""
    page.evaluate(
        """(i) => { const nb = window.jupyterapp.shell.currentWidget.content;
                    nb.activeCellIndex = i;
                    window.jupyterapp.commands.execute('notebook:run-cell'); }""",
        index,
    )


def _cell_done(page: Page, index: int) -> None:
    page.wait_for_function(
        """(i) => { const cell = window.jupyterapp.shell.currentWidget.content.widgets[i];
                    return cell.model.executionCount !== null && cell.model.executionState === 'idle'; }""",
        arg=index,
        timeout=120_000,
    )


def _statuses_while_running(page: Page, index: int) -> list[str]:
    """The notebook's kernel status as JupyterLab shows it, every 50 ms, while the cell's status is running
    and its live view is up (the kernel has started the cell: before, JupyterLab's status may still be
    idle), until the cell ends."""
    page.evaluate(
        """(i) => {
          window._wbStatuses = [];
          const panel = window.jupyterapp.shell.currentWidget;
          const cell = panel.content.widgets[i];
          let live = false;
          const sample = () => {
            live = live || (cell.model.executionState === 'running' && (%s)());
            if (live) window._wbStatuses.push(panel.sessionContext.kernelDisplayStatus);
            if (!live || cell.model.executionState === 'running') setTimeout(sample, 50);
            else window._wbStatuses.push('END');
          };
          sample();
        }""".replace("%s", LIVE_SHOWN_JS),
        index,
    )
    _run_cell(page, index)
    page.wait_for_function("() => window._wbStatuses.includes('END')", timeout=120_000)
    statuses: list[str] = page.evaluate("() => window._wbStatuses")
    return statuses[: statuses.index("END")]


def test_live_view_after_a_reload_and_in_a_second_tab(lab: tuple[str, Path], browser: Browser) -> None:
    url, root = lab
    write_notebook(root / "view.ipynb", CELLS)
    errors: list[str] = []
    page = _open(browser, f"{url}/lab/tree/view.ipynb?token={TOKEN}", errors)
    _run_cell(page, 0)
    _cell_done(page, 0)
    _run_cell(page, 1)
    page.wait_for_function(LIVE_SHOWN_JS, timeout=60_000)
    _cell_done(page, 1)

    # A reload: the kernel does not send BokehJS again; the extension gives the page its own.
    page.reload()
    open_lab_notebook(page, f"{url}/lab/tree/view.ipynb?token={TOKEN}", ".jp-Notebook .jp-Cell")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    _run_cell(page, 1)
    page.wait_for_function(LIVE_SHOWN_JS, timeout=60_000)
    _cell_done(page, 1)

    # A second tab on the same kernel.
    second_errors: list[str] = []
    second = _open(browser, f"{url}/lab/tree/view.ipynb?token={TOKEN}", second_errors)
    _run_cell(second, 1)
    second.wait_for_function(LIVE_SHOWN_JS, timeout=60_000)
    _cell_done(second, 1)
    second.wait_for_function(f"() => ({OUTPUTS_JS})().some(o => o.canvases > 0)", timeout=60_000)
    for seen in (errors, second_errors):
        assert not [e for e in seen if "reading 'require'" in e or "Failed to create view" in e], seen


def test_busy_for_the_whole_cell_no_stray_output_and_a_cleared_first_output(
    lab: tuple[str, Path], browser: Browser
) -> None:
    url, root = lab
    write_notebook(root / "view.ipynb", CELLS)
    errors: list[str] = []
    page = _open(browser, f"{url}/lab/tree/view.ipynb?token={TOKEN}", errors)
    _run_cell(page, 0)
    _cell_done(page, 0)

    statuses = _statuses_while_running(page, 1)
    # At the very end the kernel's idle may be shown a moment before the cell's reply marks it done: an
    # idle at the end is the cell ending, an idle followed by busy is the status flickering mid-cell.
    while statuses and statuses[-1] == "idle":
        statuses.pop()
    assert len(statuses) >= 5 and set(statuses) == {"busy"}, " ".join(statuses)

    for index in (2, 3, 4, 5):  # three profiled cells, then a plain gc.collect()
        _run_cell(page, index)
        _cell_done(page, index)
    assert (
        page.evaluate("() => window.jupyterapp.shell.currentWidget.content.widgets[5].model.outputs.length")
        == 0
    )

    # All four dashboards paint; then with the first one's output (the BokehJS carrier) cleared and the
    # notebook saved and reopened, the others still paint (BokehJS from the extension).
    page.wait_for_function(
        f"() => {{ const o = ({OUTPUTS_JS})(); return o.length === 4 && o.every(x => x.canvases > 0); }}",
        timeout=90_000,
    )
    page.evaluate(
        """async () => { const panel = window.jupyterapp.shell.currentWidget;
                         panel.content.widgets[1].model.outputs.clear();
                         await panel.context.save(); }"""
    )
    saved = nbformat.read(root / "view.ipynb", as_version=4)
    assert 'class="fmwb-bokehjs"' not in nbformat.writes(saved)
    page.reload()
    open_lab_notebook(page, f"{url}/lab/tree/view.ipynb?token={TOKEN}", ".jp-Notebook .jp-Cell")
    page.wait_for_function(
        f"() => {{ const o = ({OUTPUTS_JS})(); return o.length === 3 && o.every(x => x.canvases > 0); }}",
        timeout=90_000,
    )
    outputs = page.evaluate(OUTPUTS_JS)
    assert not any(o["fallback"] for o in outputs)
    assert not [e for e in errors if "Failed to create view" in e], errors
