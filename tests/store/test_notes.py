"""Notes appended to run.json: checked, stamped with author and time, written atomically, never losing
what the run already holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.store import CorruptRunError, load_run, save_run
from workbench.store.notes import NOTE_MAX_CHARS, NoteError, append_note, new_note
from workbench.store.rundir import RUN_FILE

from ..render.synthetic import MS, realistic_run


def test_new_note_stamps_author_and_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTERHUB_USER", "hub-user")
    note = new_note("  slow here  ", 10 * MS, 20 * MS)
    assert note.text == "slow here" and note.author == "hub-user"
    assert note.created.endswith("+00:00") and note.t_ns == 10 * MS and note.end_ns == 20 * MS


@pytest.mark.parametrize(
    ("text", "start", "end", "message"),
    [
        ("   ", None, None, "needs some text"),
        ("x" * (NOTE_MAX_CHARS + 1), None, None, "at most"),
        ("x", None, 5, "end needs a start"),
        ("x", -1, None, "negative"),
        ("x", 20, 10, "ends before it starts"),
    ],
)
def test_bad_notes_are_refused_with_the_reason(
    text: str, start: int | None, end: int | None, message: str
) -> None:
    with pytest.raises(NoteError, match=message):
        new_note(text, start, end)


def test_append_keeps_the_run_and_its_earlier_notes(tmp_path: Path) -> None:
    path = save_run(realistic_run(), tmp_path)
    append_note(path, new_note("first"))
    append_note(path, new_note("second", 5 * MS))
    run = load_run(path)
    assert [a.text for a in run.annotations] == ["first", "second"]
    assert run.annotations[1].t_ns == 5 * MS
    assert run.recording.spans  # the events are untouched
    assert not list(path.glob("*.tmp"))


def test_append_to_a_corrupt_run_says_so(tmp_path: Path) -> None:
    path = save_run(realistic_run(), tmp_path)
    meta = json.loads((path / RUN_FILE).read_text())
    meta["annotations"] = "not a list"
    (path / RUN_FILE).write_text(json.dumps(meta))
    with pytest.raises(CorruptRunError, match="'annotations' should be list, found str"):
        append_note(path, new_note("x"))
    (path / RUN_FILE).write_text("{broken")
    with pytest.raises(CorruptRunError, match="not valid JSON"):
        append_note(path, new_note("x"))
