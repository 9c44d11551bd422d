"""The run's notes as the dashboard shows them: numbered, with where on the run clock each one sits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.model.events import Annotation
from workbench.model.run import Run

NS_PER_MS = 1e6
# A band's label is the note's start: the whole text is in the list under the summary and on hover.
LABEL_CHARS = 40


@dataclass(frozen=True)
class NoteRow:
    number: int
    text: str
    author: str
    created: str
    start_ms: float | None
    end_ms: float | None

    @property
    def where(self) -> str:
        if self.start_ms is None:
            return "whole run"
        if self.end_ms is None:
            return f"at {self.start_ms:,.1f} ms"
        return f"{self.start_ms:,.1f}–{self.end_ms:,.1f} ms"

    @property
    def label(self) -> str:
        short = self.text if len(self.text) <= LABEL_CHARS else self.text[: LABEL_CHARS - 1] + "…"
        return f"{self.number}. {' '.join(short.split())}"

    @property
    def byline(self) -> str:
        return " · ".join(part for part in (self.author, self.created.replace("T", " ")) if part)


@dataclass(frozen=True)
class NotesView:
    rows: list[NoteRow]

    @classmethod
    def from_run(cls, run: Run) -> NotesView:
        return cls([_row(i, note) for i, note in enumerate(run.annotations, start=1)])

    @property
    def timed(self) -> list[NoteRow]:
        return [row for row in self.rows if row.start_ms is not None]

    def band_columns(self) -> dict[str, list[Any]]:
        """Notes on a range, or at one time (drawn as a thin band so it stays visible when zoomed out)."""
        rows = self.timed
        return {
            "x0": [row.start_ms for row in rows],
            "x1": [row.end_ms if row.end_ms is not None else row.start_ms for row in rows],
            "label": [row.label for row in rows],
            "text": [row.text for row in rows],
            "where": [row.where for row in rows],
            "byline": [row.byline for row in rows],
        }

    def text_lines(self) -> list[str]:
        return [
            f"{row.number}. [{row.where}] {row.text}" + (f" ({row.byline})" if row.byline else "")
            for row in self.rows
        ]


def _row(number: int, note: Annotation) -> NoteRow:
    start = None if note.t_ns is None else note.t_ns / NS_PER_MS
    end = None if note.end_ns is None or note.t_ns is None else note.end_ns / NS_PER_MS
    return NoteRow(number, note.text, note.author, note.created, start, end)
