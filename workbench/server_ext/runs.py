"""What the API does with a store, apart from HTTP: list rows, read metadata, add a note, delete, compare.

Absolute paths never leave the server: rows carry ids, and the store is named relative to the server root.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from workbench.model.events import Annotation
from workbench.server_ext.paths import PathRefused, check_run_dir, runs_folder
from workbench.session import REPORT_FILE
from workbench.store.index import list_runs, runs_dir
from workbench.store.listing import listed_row, listed_status
from workbench.store.notes import NoteError, append_note, new_note
from workbench.store.rundir import RUN_FILE, CorruptRunError, read_meta


class BadRequest(ValueError):
    """A request body or parameter that does not fit (HTTP 400)."""


class StillRecording(RuntimeError):
    """A run a live kernel is still recording: it cannot be deleted yet (HTTP 409)."""


def run_rows(store: Path) -> list[dict[str, Any]]:
    """One row per run, newest first, with the sidebar's columns; an unreadable run has status `corrupt`.
    PathRefused when the store's runs folder leads out of the store."""
    runs = runs_folder(store)
    # A run directory that is a link, or holds a file that links out, is not listed: its metadata could come
    # from anywhere.
    metas = [m for m in list_runs(store) if _served(runs, Path(str(m["path"])))]
    return [_row(meta) for meta in metas][::-1]


def _served(runs: Path, path: Path) -> bool:
    if path.parent != runs:
        return False
    try:
        check_run_dir(runs, path)
    except PathRefused:
        return False
    return True


def store_version(store: Path) -> int:
    """Changes when a run is saved, edited or deleted: the newest mtime (ns) of runs/ and each run.json."""
    root = runs_dir(store)
    if not root.is_dir():
        return 0
    stamps = [root.stat().st_mtime_ns]
    for child in root.iterdir():
        # A run saved or annotated rewrites run.json (atomically: a new file, so a new mtime).
        meta = child / RUN_FILE
        if meta.is_file():
            stamps.append(meta.stat().st_mtime_ns)
    return max(stamps)


_SIDEBAR_COLUMNS = (
    "id", "name", "created", "wall_s", "output_tokens", "output_tokens_per_s", "ttft_ms_p50", "status",
    "status_detail", "error", "parent", "notes",
)  # fmt: skip


def _row(meta: dict[str, Any]) -> dict[str, Any]:
    row = listed_row(meta)
    path = Path(str(meta.get("path", "")))
    return {**{c: row[c] for c in _SIDEBAR_COLUMNS}, "has_report": (path / REPORT_FILE).is_file()}


def run_meta(path: Path) -> dict[str, Any]:
    """run.json of one run (metrics, environment, options, notes); CorruptRunError when unreadable."""
    meta = read_meta(path)
    meta.pop("path", None)
    return meta


def ensure_report(path: Path) -> Path:
    """The run's report.html, written first when the run has none (as `workbench export --format html`)."""
    from workbench.session import ensure_artifact

    try:
        return ensure_artifact(path, REPORT_FILE)
    except OSError as problem:
        raise CorruptRunError(f"{path.name}: {problem}") from problem


def add_note(path: Path, body: Any) -> dict[str, Any]:
    """Append a note to run.json's `annotations` (report.html is written again, with it, when next asked
    for); returns it as stored."""
    from workbench.session import invalidate

    stored = append_note(path, _note_from_body(body))
    invalidate(path)
    return stored


def _note_from_body(body: Any) -> Annotation:
    if not isinstance(body, dict):
        raise BadRequest('expected a JSON object such as {"text": "..."}')
    text = body.get("text")
    if not isinstance(text, str):
        raise BadRequest("`text` must be a non-empty string")
    start, end = body.get("t_ns"), body.get("end_ns")
    for name, value in (("t_ns", start), ("end_ns", end)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise BadRequest(f"`{name}` must be a non-negative integer (ns on the run clock) or null")
    try:
        return new_note(text, start, end)
    except NoteError as error:
        raise BadRequest(str(error)) from None


def delete_run(path: Path) -> None:
    """Remove the run directory (the caller checked it is a real run directory inside the store); a run
    still being recorded stays (its kernel would write it again, half)."""
    if listed_status(read_meta(path)) == "recording":
        raise StillRecording(f"run {path.name} is still being recorded; delete it once its cell has ended")
    shutil.rmtree(path)


def compare_report(a: Path, b: Path, fmt: str) -> str:
    """The compare report of run `b` against baseline `a`: the HTML page, or its text form."""
    from workbench.render.diff_report import diff_html, diff_text
    from workbench.saved.compare import compare

    diff = compare(a, b)
    return diff_html(diff) if fmt == "html" else diff_text(diff)
