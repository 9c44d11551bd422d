"""Notebooks executed headless through nbclient; the demo's HTML shows the dashboard offline."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter

from workbench.session import ensure_artifact
from workbench.store import list_runs, load_run

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.kernel


def execute(notebook: nbformat.NotebookNode, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_STORE", str(cwd / "store"))
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()


def test_hot_function_cell_through_nbclient(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("%load_ext workbench"),
        nbformat.v4.new_code_cell(
            "def nb_unique_hot_function(n):\n    return sum(i * i for i in range(n))\n"
        ),
        nbformat.v4.new_code_cell("%%fmprofile --name nb-hot\nnb_unique_hot_function(4_000_000)"),
    ]
    execute(notebook, tmp_path, monkeypatch)
    run = load_run(Path(list_runs(tmp_path / "store")[-1]["path"]))
    functions = [f["function"] for f in run.metrics["cpu"]["top_functions"]]
    # py-spy names the generator by its qualified name (`nb_unique_hot_function.<locals>.<genexpr>`);
    # whether it or the function itself has more self time varies from run to run.
    assert any("nb_unique_hot_function" in name for name in functions[:2]), functions
    assert any(
        "nb_unique_hot_function" in [f.function for f in run.recording.stack_frames(s.stack_id)]
        for s in run.recording.samples
    )
    outputs = notebook.cells[2].outputs
    # The dashboard takes the live view's place, opened when the cell started; then the cell's value, as
    # without the magic.
    assert [o.output_type for o in outputs] == ["display_data", "execute_result"]
    assert "nb_unique_hot_function" in outputs[0].data["text/plain"]


@pytest.mark.browser
def test_demo_notebook_html_shows_the_dashboard_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chromium_executable: str
) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.browser import open_offline_page

    notebook = nbformat.read(ROOT / "notebooks" / "01_quickstart.ipynb", as_version=4)
    execute(notebook, tmp_path, monkeypatch)
    html, _ = HTMLExporter().from_notebook_node(notebook)
    page_path = tmp_path / "01_quickstart.html"
    page_path.write_text(html)
    run = load_run(Path(list_runs(tmp_path / "store")[-1]["path"]))
    assert run.metrics["tokens"]["output_tokens"] == 64
    assert ensure_artifact(run.path, "report.html").stat().st_size > 0
    with open_offline_page(page_path, chromium_executable) as (page, blocked, errors):
        frame = page.frame_locator("iframe").first
        frame.locator("canvas").first.wait_for(timeout=30_000)
        assert frame.locator("canvas").count() >= 3
        assert "quickstart" in frame.locator("body").inner_text()
        # nbconvert's own template asks for require.js and MathJax from CDNs; the dashboard asks nothing.
        assert not [url for url in blocked if "bokeh" in url]
        script_errors = [e for e in errors if "Failed to load resource" not in e]
        assert not script_errors
        assert len(errors) - len(script_errors) <= len(blocked)


# In each output's frame: drawn canvases (Bokeh's are in shadow roots), or the output's static picture.
FRAMES_JS = """
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
  const picture = box.querySelector('.wb-static');
  const line = box.querySelector('.fmwb-no-bokeh');
  return {canvases, picture: picture ? getComputedStyle(picture).display : null,
          line: line && line.style.display !== 'none' ? line.textContent : ''};
})
"""


@pytest.mark.browser
def test_five_profiled_cells_carry_bokehjs_once_and_all_paint_in_nbconvert_html(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chromium_executable: str
) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.browser import open_offline_page

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("%load_ext workbench")] + [
        nbformat.v4.new_code_cell(f"%%fmprofile --name cell-{i}\nsum(i * i for i in range(200_000))")
        for i in range(5)
    ]
    execute(notebook, tmp_path, monkeypatch)
    outputs = [
        next(o for o in cell.outputs if "text/html" in o.get("data", {})) for cell in notebook.cells[1:]
    ]
    carried = ['class="fmwb-bokehjs"' in o.data["text/html"] for o in outputs]
    assert carried == [True, False, False, False, False]
    sizes = [len(nbformat.writes(nbformat.v4.new_notebook(cells=[cell]))) for cell in notebook.cells[1:]]
    assert sizes[0] < 2_000_000 and max(sizes[1:]) < 150_000, sizes

    def paint(nb: nbformat.NotebookNode, name: str) -> list[dict[str, object]]:
        page_path = tmp_path / name
        page_path.write_text(HTMLExporter().from_notebook_node(nb)[0])
        with open_offline_page(page_path, chromium_executable) as (page, _, errors):
            page.wait_for_function(
                f"() => ({FRAMES_JS})().every(f => f.canvases > 0 || f.line)", timeout=60_000
            )
            frames: list[dict[str, object]] = page.evaluate(FRAMES_JS)
        assert not [e for e in errors if "Failed to load resource" not in e]
        return frames

    frames = paint(notebook, "five.html")
    assert len(frames) == 5
    assert all(f["canvases"] and f["picture"] == "none" and not f["line"] for f in frames), frames

    # The first dashboard's output cleared: the others show their static picture and say how to get the
    # interactive one back (a page without FM Workbench's JupyterLab extension has no BokehJS of its own).
    notebook.cells[1].outputs = []
    frames = paint(notebook, "cleared.html")
    assert len(frames) == 4
    assert all(not f["canvases"] and f["picture"] == "block" for f in frames), frames
    assert all("Run this cell again" in str(f["line"]) for f in frames)
