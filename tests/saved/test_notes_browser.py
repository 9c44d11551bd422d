"""A profiled notebook with notes, shared: executed with nbclient and saved, then opened the ways someone
else would open it, in Debian chromium, with hostile strings in a note and a span name.

- `jupyter nbconvert --to html`, opened from file:// with the network cut off: the dashboard and its notes;
- JupyterLab, untrusted: no script runs, the static picture and the notes show in the frame's place;
- JupyterLab, trusted: the interactive dashboard, and a note typed into its note field is saved by the
  kernel (through the lab extension) and drawn into the output.
Nothing injected runs anywhere: `window.pwned` stays undefined.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from playwright.sync_api import Frame, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser import chromium_page, open_lab_notebook, open_offline_page
from tests.jupyter_process import jupyter_server, with_lab_extension
from workbench.session import ensure_artifact
from workbench.store import list_runs, load_run

pytestmark = [pytest.mark.browser, pytest.mark.kernel]

TOKEN = "notes-test-token"
EVIL_NOTE = "retrieval is slow <script>window.pwned = 1</script>"
FIELD_NOTE = "typed into the note field"
EVIL_SPAN = '"><img src=x onerror="window.pwned = 2">'
EVIL_MODEL = "<img src=x onerror=window.pwned=3>"
CELLS = [
    "%load_ext workbench",
    "%%fmprofile --name shared\nimport time\nimport workbench as wb\n\n"
    "def busy(seconds):\n    end = time.perf_counter() + seconds\n    while time.perf_counter() < end:\n"
    "        sum(i * i for i in range(1000))\n\n"
    f"with wb.span({EVIL_SPAN!r}):\n    busy(0.4)\n"
    f"with wb.llm_request(model={EVIL_MODEL!r}) as request:\n    request.chunk(3)",
    f'%fmprofile_note --range 0 5 "{EVIL_NOTE}"',
]
# Where to drag on the timeline, in the frame's coordinates: its middle half, at mid-height.
TIMELINE_BOX_JS = """
() => {
  const view = Bokeh.index.find_one(Bokeh.documents[0].get_model_by_name('timeline'));
  const el = view.el.getBoundingClientRect(), f = view.frame.bbox;
  return {x0: el.left + f.left + f.width * 0.25, x1: el.left + f.left + f.width * 0.75,
          y: el.top + f.top + f.height / 2};
}
"""
DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The executed notebook, saved as nbclient leaves it (not signed: untrusted for anyone who opens it)."""
    folder = tmp_path_factory.mktemp("shared")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WORKBENCH_STORE", str(folder / "store"))
        NotebookClient(
            notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
        ).execute()
    nbformat.write(notebook, folder / "shared.ipynb")
    return folder


def _frame(page: Page) -> Frame:
    page.wait_for_selector("iframe", timeout=60_000)
    deadline = 100
    for _ in range(deadline):
        frames = [f for f in page.frames if f != page.main_frame and f.url.startswith("about:srcdoc")]
        if frames:
            frame = frames[-1]
            frame.wait_for_function(
                "() => window.Bokeh !== undefined && Bokeh.index.roots.length > 0", timeout=30_000
            )
            return frame
        page.wait_for_timeout(200)
    pytest.fail("no dashboard frame in the page")


def _notes_text(frame: Frame) -> str:
    return str(
        frame.evaluate(
            "() => { const m = Bokeh.documents[0].get_model_by_name('notes');"
            " const v = m && Bokeh.index.find_one(m);"
            " return v && v.shadow_el ? v.shadow_el.textContent : ''; }"
        )
    )


def test_nbconvert_export_shows_the_dashboard_and_its_notes_offline(
    shared: Path, chromium_executable: str
) -> None:
    body, _ = HTMLExporter().from_filename(str(shared / "shared.ipynb"))
    page_path = shared / "shared.html"
    page_path.write_text(body, encoding="utf-8")
    with open_offline_page(page_path, chromium_executable) as (page, blocked, errors):
        frame = _frame(page)
        assert EVIL_NOTE in _notes_text(frame)
        # The static picture is hidden where the dashboard runs.
        assert page.locator(".wb-static").first.is_hidden()
        assert page.evaluate("() => window.pwned") is None and frame.evaluate("() => window.pwned") is None
        assert frame.locator("img").count() == 0  # no injected element, in the page or its frame
        assert page.locator("img[src=x]").count() == 0
        # nbconvert's template asks CDNs for require.js and MathJax; the dashboard itself asks nothing.
        assert not [url for url in blocked if "bokeh" in url]
        assert not [e for e in errors if "Failed to load resource" not in e]


def test_report_html_shows_the_notes_offline(shared: Path, chromium_executable: str) -> None:
    (meta,) = list_runs(shared / "store")
    report = ensure_artifact(Path(meta["path"]), "report.html")
    with open_offline_page(report, chromium_executable) as (page, blocked, errors):
        page.wait_for_function("() => window.Bokeh !== undefined && Bokeh.index.roots.length > 0")
        assert EVIL_NOTE in _notes_text(page.main_frame)
        text = page.inner_text("pre.wb-summary")
        assert EVIL_NOTE in text and "notes (1)" in text
        assert page.evaluate("() => window.pwned") is None and page.locator("img").count() == 0
        assert blocked == [] and errors == []


@pytest.fixture
def lab(shared: Path, tmp_path: Path) -> Iterator[str]:
    """JupyterLab with the lab and server extensions, serving the folder of the shared notebook."""
    env, extra = with_lab_extension(tmp_path)
    env["WORKBENCH_STORE"] = str(shared / "store")
    extra += ["--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None"]
    with jupyter_server("jupyterlab", shared, TOKEN, tmp_path / "lab.log", env, extra) as url:
        yield url


def _open(page: Page, url: str) -> None:
    open_lab_notebook(
        page,
        f"{url}/lab/tree/shared.ipynb?token={TOKEN}",
        ".jp-Notebook .jp-Cell .jp-OutputArea-output",
        3_000,
    )


def test_untrusted_shows_the_static_picture_then_trusted_the_dashboard_and_its_note_field(
    shared: Path, lab: str, chromium_executable: str
) -> None:
    with chromium_page(chromium_executable, {"width": 1280, "height": 1000}) as (page, _errors):
        _open(page, lab)
        picture = page.locator(".jp-OutputArea-output .wb-static").first
        picture.wait_for(state="visible", timeout=30_000)
        text = picture.inner_text()
        assert EVIL_NOTE in text and "CPU flame graph" in text and "busy" in text
        assert EVIL_SPAN in text  # the span's name, as text
        assert page.locator(".jp-OutputArea-output iframe").count() == 0
        # The flame graph is drawn: positioned blocks survived JupyterLab's sanitizer.
        widths = picture.evaluate(
            "(el) => Array.from(el.querySelectorAll('div[title]')).map(d => d.getBoundingClientRect().width)"
        )
        assert len(widths) > 5 and max(widths) > 300
        assert page.evaluate("() => window.pwned") is None
        picture.scroll_into_view_if_needed()
        page.screenshot(path=str(DOCS / "untrusted.png"))

        trust = subprocess.run(
            [sys.executable, "-m", "jupyter", "trust", str(shared / "shared.ipynb")],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert trust.returncode == 0, trust.stderr
        page.reload()
        _open(page, lab)
        frame = _frame(page)
        assert page.locator(".jp-OutputArea-output .wb-static").first.is_hidden()
        assert EVIL_NOTE in _notes_text(frame)
        assert page.evaluate("() => window.pwned") is None and frame.evaluate("() => window.pwned") is None

        # The note field: the kernel (started here) saves the note and redraws the dashboard with it.
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=60_000)
        # Box-select a range on the timeline (the tool the note field adds), then type and send.
        frame.evaluate(
            "() => { const t = Bokeh.documents[0].get_model_by_name('timeline').toolbar.tools"
            ".find(t => t.type === 'BoxSelectTool'); t.active = true; }"
        )
        frame.evaluate(
            "() => Bokeh.index.find_one(Bokeh.documents[0].get_model_by_name('timeline'))"
            ".el.scrollIntoView({block: 'center'})"
        )
        page.wait_for_timeout(300)
        box = frame.evaluate(TIMELINE_BOX_JS)
        frame_box = page.locator("iframe").bounding_box()
        assert frame_box is not None
        y = frame_box["y"] + box["y"]
        page.mouse.move(frame_box["x"] + box["x0"], y)
        page.mouse.down()
        page.mouse.move(frame_box["x"] + box["x1"], y + 5, steps=5)
        page.mouse.up()
        status = frame.evaluate("() => Bokeh.documents[0].get_model_by_name('note_status').text")
        assert "The note will cover" in status, status
        frame.locator("input[placeholder^='Add a note']").fill(FIELD_NOTE)
        frame.get_by_role("button", name="Add note").click()
        try:
            page.wait_for_function(
                "(text) => Array.from(document.querySelectorAll('iframe'))"
                ".some(f => f.srcdoc.includes(text))",
                arg=FIELD_NOTE,
                timeout=60_000,
            )
        except PlaywrightTimeout:
            status = frame.locator(".bk-Div").last.inner_text() if frame.is_detached() is False else "?"
            pytest.fail(f"the note was not drawn; the field says: {status}")
        redrawn = _frame(page)
        assert FIELD_NOTE in _notes_text(redrawn) and EVIL_NOTE in _notes_text(redrawn)
        page.screenshot(path=str(DOCS / "notes.png"))
    (meta,) = list_runs(shared / "store")
    notes = load_run(Path(meta["path"])).annotations
    assert [a.text for a in notes] == [EVIL_NOTE, FIELD_NOTE]
    # The range box-selected on the timeline: within the run, a quarter to three quarters of the view.
    assert notes[1].t_ns is not None and notes[1].end_ns is not None and notes[1].end_ns > notes[1].t_ns
