"""Text for a terminal: control characters shown escaped.

Run, span, model and file names come from users and from files anyone can edit; printed raw, an escape
sequence in one moves the cursor, recolours the terminal, sets its window title or rings the bell. Every
`workbench` command prints through `escaped_output()`, which leaves newlines and tabs and shows every
other control character (C0, DEL, C1, and the bidirectional overrides that reorder what is shown) as a
Python escape (`\\x1b`, `\\u202e`).
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """`text` with its control characters, except newline and tab, written as escapes."""
    return _CONTROL.sub(_escape, text)


class EscapingWriter(io.TextIOBase):
    """A text stream that escapes control characters on the way to `target`."""

    def __init__(self, target: TextIO) -> None:
        self.target = target

    def write(self, text: str) -> int:
        self.target.write(terminal_safe(text))
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.target.isatty()


@contextmanager
def escaped_output() -> Iterator[None]:
    """sys.stdout and sys.stderr escape control characters inside the block."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = EscapingWriter(saved[0]), EscapingWriter(saved[1])  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = saved
