"""Notes on a saved run: run.json's `annotations` is the one place a note lives.

The magic, the Python API, the CLI and the Jupyter server extension all add notes through here, so a note
has the same checks and the same fields (author, creation time) whichever way it was written.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench.model.events import Annotation
from workbench.store.rundir import RUN_FILE, read_meta, write_atomic

# A note is a sentence or a paragraph; this bounds what a pasted log could add to every run.json read.
NOTE_MAX_CHARS = 10_000


class NoteError(ValueError):
    """A note that cannot be stored as given (empty, too long, a range that does not fit the run)."""


def new_note(text: str, start_ns: int | None = None, end_ns: int | None = None) -> Annotation:
    """A note on the whole run (`start_ns` None), at one time, or on `start_ns`..`end_ns` (run clock)."""
    if not text.strip():
        raise NoteError("a note needs some text")
    if len(text) > NOTE_MAX_CHARS:
        raise NoteError(f"a note is at most {NOTE_MAX_CHARS:,} characters (this one has {len(text):,})")
    if start_ns is None and end_ns is not None:
        raise NoteError("a note's end needs a start")
    for value in (start_ns, end_ns):
        if value is not None and value < 0:
            raise NoteError(f"a note's time must not be negative (got {value / 1e6:g} ms)")
    if start_ns is not None and end_ns is not None and end_ns < start_ns:
        raise NoteError(f"a note's range ends before it starts ({start_ns / 1e6:g} > {end_ns / 1e6:g} ms)")
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return Annotation(t_ns=start_ns, text=text.strip(), author=note_author(), end_ns=end_ns, created=created)


def note_author() -> str:
    """Who writes the note: JupyterHub's user on a shared machine, else the account the kernel runs as."""
    try:
        return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        return ""


def append_note(path: Path, note: Annotation) -> dict[str, Any]:
    """Append `note` to the run directory's run.json (rewritten atomically); returns the note as stored."""
    meta = read_meta(path)  # CorruptRunError unless `annotations`, when present, is a list
    notes = meta.get("annotations")
    stored = dataclasses.asdict(note)
    meta["annotations"] = [*(notes or []), stored]
    write_atomic(path / RUN_FILE, json.dumps(meta, indent=1, default=str).encode())
    return stored
