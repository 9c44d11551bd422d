"""One run directory: run.json (metadata, metrics), events.json.gz (all events), and the exports."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

from workbench.model.ops import OpTable
from workbench.model.ops_io import OpsFormatError, ops_from_bytes, ops_to_bytes
from workbench.model.run import Run
from workbench.model.serialize import (
    RunFormatError,
    events_to_recording,
    meta_to_run,
    recording_to_events,
    run_to_meta,
)

RUN_FILE = "run.json"
EVENTS_FILE = "events.json.gz"
OPS_FILE = "ops.npz"


class CorruptRunError(Exception):
    """A run directory that cannot be read; the message names the directory and the problem."""


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file and rename, so a crash never leaves half a file behind."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        # A full disk (or an interrupt) mid-write: the half-written temporary file goes, the old file stays.
        tmp.unlink(missing_ok=True)
        raise


def save_run(run: Run, runs_dir: Path) -> Path:
    """Save the run's metadata and events under `runs_dir/<id>/`; returns that directory."""
    path = runs_dir / run.id
    path.mkdir(parents=True, exist_ok=True)
    events = json.dumps(recording_to_events(run.recording), separators=(",", ":")).encode()
    write_atomic(path / EVENTS_FILE, gzip.compress(events, compresslevel=5))
    if run.recording.ops is not None:
        write_atomic(path / OPS_FILE, ops_to_bytes(run.recording.ops))
    write_meta(run, path)
    run.path = path
    return path


def write_meta(run: Run, path: Path) -> None:
    write_atomic(path / RUN_FILE, json.dumps(run_to_meta(run), indent=1, default=str).encode())


# The fields every listing reads (`workbench runs`, the Runs sidebar, `wb.runs()`), with the types they
# must have; a run.json with one of the wrong type is listed as unreadable instead of taking the list down.
LISTED_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "name": (str, type(None)),
    "created": (str,),
    "origin_wall_s": (int, float),
    "metrics": (dict,),
    "annotations": (list,),
    "parent": (str, type(None)),
    "status": (str,),
}


def read_meta(path: Path) -> dict[str, Any]:
    file = path / RUN_FILE
    if not file.is_file():
        raise CorruptRunError(f"{path}: no {RUN_FILE} (not a run directory)")
    try:
        meta = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CorruptRunError(f"{file}: not valid JSON ({error})") from error
    except RecursionError as error:
        raise CorruptRunError(f"{file}: nested too deeply to be a run") from error
    except OSError as error:
        raise CorruptRunError(f"{file}: unreadable ({error})") from error
    if not isinstance(meta, dict):
        raise CorruptRunError(f"{file}: expected a JSON object, found {type(meta).__name__}")
    if "id" not in meta:
        raise CorruptRunError(f"{file}: no 'id' (not a run's metadata)")
    for field, types in LISTED_FIELDS.items():
        if field in meta and (not isinstance(meta[field], types) or isinstance(meta[field], bool)):
            expected = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            found = type(meta[field]).__name__
            raise CorruptRunError(f"{file}: field {field!r} should be {expected}, found {found}")
    return meta


def load_run(path: Path) -> Run:
    meta = read_meta(path)
    if meta.get("status") == "recording":
        return _load_recording(path, meta)
    events_path = path / EVENTS_FILE
    try:
        events = json.loads(gzip.decompress(events_path.read_bytes()))
    except FileNotFoundError as error:
        raise CorruptRunError(f"{path}: {EVENTS_FILE} is missing") from error
    except (OSError, EOFError, json.JSONDecodeError, UnicodeDecodeError, gzip.BadGzipFile) as error:
        raise CorruptRunError(f"{events_path}: unreadable ({error})") from error
    except RecursionError as error:
        raise CorruptRunError(f"{events_path}: nested too deeply to be a run's events") from error
    try:
        recording = events_to_recording(events)
    except RunFormatError as error:
        raise CorruptRunError(f"{events_path}: {error}") from error
    recording.ops = _load_ops(path / OPS_FILE)
    try:
        run = meta_to_run(meta, recording)
    except RunFormatError as error:
        raise CorruptRunError(f"{path}: {error}") from error
    run.path = path
    return run


def _load_recording(path: Path, meta: dict[str, Any]) -> Run:
    """A run still being recorded (what its journal holds so far), or one whose kernel died: rebuilt, then
    saved whole so that it loads like any other run from then on."""
    # Imported here: recover builds on this module's reading and writing.
    from workbench.store import recover

    alive = recover.recorder_alive(meta.get("recorder"))
    try:
        run = recover.rebuild(path, meta)
    except RunFormatError as error:
        raise CorruptRunError(f"{path}: {error}") from error
    if alive:
        run.status_detail = "still recording: what its journal holds so far"
        return run
    recorder: dict[str, Any] = meta["recorder"] if isinstance(meta.get("recorder"), dict) else {}
    run.status = "crashed"
    run.status_detail = (
        f"the kernel (pid {recorder.get('pid', '?')}) died while recording; rebuilt from its journal "
        f"and py-spy's output ({len(run.recording.spans)} spans, {len(run.recording.tokens)} token "
        f"arrivals, {sum(s.count for s in run.recording.samples)} CPU samples)"
    )
    recover.finish_crashed(path, run)
    return run


def _load_ops(file: Path) -> OpTable | None:
    if not file.exists():
        return None
    try:
        return ops_from_bytes(file.read_bytes())
    except (OSError, OpsFormatError) as error:
        raise CorruptRunError(f"{file}: {error}") from error
