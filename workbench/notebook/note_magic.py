"""`%fmprofile_note [RUN] [--at MS | --range START END] [--store DIR] "text"`: a note on a saved run.

RUN is what `workbench show` takes (an id, id prefix, name, or -1 for the latest run, the default); times
are in ms on the dashboard's axis. The dashboard of that run, when this kernel showed it, is redrawn with
the note, so the saved notebook carries it.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

USAGE = '%fmprofile_note [RUN] [--at MS | --range START_MS END_MS] [--store DIR] "text"'
_RELATIVE = re.compile(r"-\d+")
# Run ids start with the date (20261121-134032-...): a shorter first word is part of the note.
MIN_ID_PREFIX = 8


@dataclass(frozen=True)
class NoteArgs:
    text: str
    run: str | None = None
    at_ms: float | None = None
    range_ms: tuple[float, float] | None = None
    store: str | None = None


def parse_note_line(line: str) -> NoteArgs:
    """The words of the magic's line; ValueError naming what is wrong."""
    try:
        words = shlex.split(line)
    except ValueError as error:
        raise ValueError(f"{error} (quote the note's text: {USAGE})") from None
    positional: list[str] = []
    at_ms: float | None = None
    range_ms: tuple[float, float] | None = None
    store: str | None = None
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--at":
            (value,) = _values(words, i, 1)
            at_ms = value
            i += 2
        elif word == "--range":
            start, end = _values(words, i, 2)
            range_ms = (start, end)
            i += 3
        elif word == "--store":
            if i + 1 >= len(words):
                raise ValueError("--store needs a directory")
            store = words[i + 1]
            i += 2
        elif word.startswith("--"):
            raise ValueError(f"unknown option {word} ({USAGE})")
        else:
            positional.append(word)
            i += 1
    if at_ms is not None and range_ms is not None:
        raise ValueError("give --at or --range, not both")
    if not positional:
        raise ValueError(f"the note's text is missing ({USAGE})")
    run = None
    if len(positional) > 1 and _names_a_run(positional[0], store):
        run = positional.pop(0)
    return NoteArgs(" ".join(positional), run, at_ms, range_ms, store)


def _values(words: list[str], at: int, count: int) -> list[float]:
    given = words[at + 1 : at + 1 + count]
    try:
        values = [float(w) for w in given]
    except ValueError:
        values = []
    if len(values) != count:
        raise ValueError(f"{words[at]} needs {count} number(s) in ms, got {' '.join(given) or 'none'}")
    return values


def _names_a_run(word: str, store: str | None) -> bool:
    """Whether the first word is a run rather than the note's first word: -N, or a saved run's id (or an
    id prefix of the date at least, so a word such as "2x" is never taken for one) or name."""
    if _RELATIVE.fullmatch(word):
        return True
    from pathlib import Path

    from workbench.store import list_runs

    rows = list_runs(None if store is None else Path(store))
    ids = [str(r.get("id", "")) for r in rows]
    names = {str(r.get("name", "")) for r in rows}
    return word in names or (len(word) >= MIN_ID_PREFIX and any(i.startswith(word) for i in ids))


@magics_class
class NoteMagics(Magics):
    @line_magic
    def fmprofile_note(self, line: str) -> None:
        """%fmprofile_note [RUN] [--at MS | --range START_MS END_MS] [--store DIR] "text": note a run."""
        from workbench.saved.notes import note

        try:
            args = parse_note_line(line)
            added = note(
                args.text, args.run or "-1", at_ms=args.at_ms, range_ms=args.range_ms, store=args.store
            )
        except (LookupError, OSError, ValueError) as error:
            raise UsageError(f"%fmprofile_note: {error}") from None
        print(added.message())
