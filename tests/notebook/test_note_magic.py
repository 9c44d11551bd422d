"""`%fmprofile_note`: its line, and in a real kernel through nbclient: the note is saved in run.json and
report.html, and the dashboard shown earlier in the notebook is redrawn with it (so the saved notebook
carries it); a bad note is refused with the reason and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from workbench.notebook.note_magic import NoteArgs, parse_note_line
from workbench.session import ensure_artifact
from workbench.store import list_runs, load_run


def test_text_alone_notes_the_latest_run() -> None:
    assert parse_note_line('"slow retrieval"') == NoteArgs("slow retrieval")
    assert parse_note_line("words without quotes") == NoteArgs("words without quotes")


def test_run_time_and_range_options() -> None:
    assert parse_note_line('-2 --at 12.5 "x"') == NoteArgs("x", run="-2", at_ms=12.5)
    assert parse_note_line('--range 10 20 --store s "y z"') == NoteArgs(
        "y z", range_ms=(10.0, 20.0), store="s"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "text is missing"),
        ("--at", "--at needs 1 number"),
        ('--range 1 "x"', "--range needs 2 number"),
        ('--at 1 --range 1 2 "x"', "not both"),
        ('--colour red "x"', "unknown option --colour"),
        ('"unclosed', "quote the note"),
    ],
)
def test_bad_lines_say_what_is_wrong(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_note_line(line)


CELLS = [
    "%load_ext workbench",
    "%%fmprofile --name noted\nimport time\nimport workbench as wb\n"
    "with wb.span('step'):\n    time.sleep(0.3)",
    '%fmprofile_note --range 0 50 "first <b>look</b>"',
    '%fmprofile_note noted "on the whole run"',
    '%fmprofile_note --at 1e9 "too late"',
    '%fmprofile_note --at soon "x"',
]


@pytest.mark.kernel
def test_notes_are_saved_and_redraw_the_dashboard_in_the_notebook(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    store = tmp_path / "store"
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WORKBENCH_STORE", str(store))
        client.execute()
    nbformat.write(notebook, tmp_path / "noted.ipynb")

    def stdout(i: int) -> str:
        return "".join(o.get("text", "") for o in notebook.cells[i].outputs if o.output_type == "stream")

    def error(i: int) -> str:
        # IPython shows a UsageError on stderr, without a traceback.
        outputs = notebook.cells[i].outputs
        return "".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.name == "stderr")

    assert "note added to run 'noted'" in stdout(2) and "on 0.0–50.0 ms" in stdout(2)
    assert "1 dashboard(s) redrawn" in stdout(2)
    assert "on the whole run" in stdout(3)
    assert "UsageError" in error(4) and "is after the end of run 'noted'" in error(4)
    assert "UsageError" in error(5) and "--at needs 1 number" in error(5)

    (meta,) = list_runs(store)
    run = load_run(Path(meta["path"]))
    assert [(a.text, a.t_ns, a.end_ns) for a in run.annotations] == [
        ("first <b>look</b>", 0, 50_000_000),
        ("on the whole run", None, None),
    ]
    assert all(a.author and a.created for a in run.annotations)
    report = ensure_artifact(Path(meta["path"]), "report.html").read_text()
    assert "first &lt;b&gt;look&lt;/b&gt;" in report or "first \\u003cb\\u003elook" in report

    # The profiled cell's own output, as saved in the notebook, now shows both notes.
    saved = json.loads((tmp_path / "noted.ipynb").read_text())
    html = "".join("".join(o.get("data", {}).get("text/html", "")) for o in saved["cells"][1]["outputs"])
    assert "first &lt;b&gt;look&lt;/b&gt;" in html and "on the whole run" in html
    assert "<b>look</b>" not in html
