"""Telling a live recording from a crashed one, and rebuilding a run from its journal alone."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.model.events import Span, TokenEvent
from workbench.model.recording import Recording
from workbench.model.run import Run
from workbench.store.journal import JournalCursor, append, increment
from workbench.store.listing import listed_row, listed_status
from workbench.store.recover import recorder_alive, this_process
from workbench.store.rundir import load_run, read_meta, write_meta


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_this_process_is_alive_and_a_finished_one_is_not() -> None:
    me = this_process()
    assert recorder_alive(me)
    assert not recorder_alive({**me, "pid": _dead_pid()})


def test_a_reused_pid_is_not_the_recorder() -> None:
    me = this_process()
    assert me["pid_start"] is not None
    assert not recorder_alive({**me, "pid_start": me["pid_start"] - 1})


def test_another_hosts_recorder_cannot_be_checked_and_counts_as_alive() -> None:
    assert recorder_alive({"pid": 1, "host": socket.gethostname() + "-elsewhere"})


def test_hand_edited_recorders_are_not_alive() -> None:
    here = socket.gethostname()
    for recorder in (
        None,
        "x",
        {},
        {"pid": "1", "host": here},
        {"pid": True, "host": here},
        {"pid": -4, "host": here},
    ):
        assert not recorder_alive(recorder)


def test_listed_status_of_each_state() -> None:
    me = this_process()
    assert listed_status({"id": "a"}) == "ok"
    assert listed_status({"id": "a", "error": "ValueError: x"}) == "error"
    assert listed_status({"id": "a", "load_error": "bad"}) == "corrupt"
    assert listed_status({"id": "a", "status": "unanalysed"}) == "unanalysed"
    assert listed_status({"id": "a", "status": "recording", "recorder": me}) == "recording"
    assert (
        listed_status({"id": "a", "status": "recording", "recorder": {**me, "pid": _dead_pid()}}) == "crashed"
    )


def test_a_listed_row_shows_wrong_types_as_missing() -> None:
    row = listed_row(
        {"id": "a", "name": 3, "metrics": {"wall_s": "slow", "tokens": [1], "cpu": {"samples": True}}}
    )
    assert row["name"] == "3" and row["wall_s"] is None and row["output_tokens"] is None
    assert row["cpu_samples"] is None and row["status"] == "ok"


def _recording_run(tmp_path: Path, pid: int) -> Path:
    recording = Recording()
    run = Run(id="r1", name="journaled", created="2026-12-05T10:00:00", duration_ns=0, origin_wall_s=1.0,
              recording=recording, status="recording", recorder={**this_process(), "pid": pid})  # fmt: skip
    path = tmp_path / "runs" / run.id
    path.mkdir(parents=True)
    write_meta(run, path)
    cursor = JournalCursor()
    cell = Span(1, "journaled", "cell", 1_000, None, None, 1, {})
    recording.spans.append(cell)
    recording.spans.append(Span(2, "retrieve", "retrieve", 2_000, 900_000_000, 1, 1, {}))
    append(path, increment(recording, cursor) or {})
    recording.tokens.append(TokenEvent(3, 950_000_000, 5, None))
    recording.spans.append(Span(3, "generate", "llm", 950_000_000, None, 1, 1, {}))
    append(path, increment(recording, cursor) or {})
    return path


def test_a_crashed_run_is_rebuilt_from_its_journal_and_then_saved_whole(tmp_path: Path) -> None:
    path = _recording_run(tmp_path, _dead_pid())
    run = load_run(path)
    assert run.status == "crashed" and "died while recording" in (run.status_detail or "")
    assert [s.name for s in run.recording.spans] == ["journaled", "retrieve", "generate"]
    generate = run.recording.spans[2]
    assert generate.end_ns == 950_000_000 and generate.attrs["unfinished"] is True
    assert run.duration_ns == 950_000_000 and run.metrics["wall_s"] == (950_000_000 - 1_000) / 1e9
    assert run.metrics["tokens"]["output_tokens"] == 5
    assert sorted(p.name for p in path.iterdir()) == ["events.json.gz", "run.json"]
    assert read_meta(path)["status"] == "crashed"
    again = load_run(path)
    assert again.status == "crashed" and len(again.recording.spans) == 3


def test_a_live_recording_loads_what_it_has_so_far_and_is_left_as_it_is(tmp_path: Path) -> None:
    import os

    path = _recording_run(tmp_path, os.getpid())
    run = load_run(path)
    assert run.status == "recording" and len(run.recording.spans) == 3
    assert (path / "journal.jsonl").exists() and read_meta(path)["status"] == "recording"


def test_a_crashed_run_without_a_journal_is_an_empty_run_not_an_error(tmp_path: Path) -> None:
    path = _recording_run(tmp_path, _dead_pid())
    (path / "journal.jsonl").write_text('{"spans": [[1, "x"\n')  # cut short by the kill
    run = load_run(path)
    assert run.status == "crashed" and run.recording.spans == [] and run.duration_ns == 0
    json.loads((path / "run.json").read_text())


@pytest.mark.parametrize(("ignored", "expected"), [([], ["sequential_llm"]), (["sequential_llm"], [])])
def test_a_crashed_run_gets_the_findings_its_journal_supports(
    ignored: list[str], expected: list[str], tmp_path: Path
) -> None:
    # The recorded run on which sequential_llm fires (tests/data/findings), journaled by a kernel that died.
    recorded = load_run(Path(__file__).parent.parent / "data" / "findings" / "sequential_llm" / "sequential")
    run = Run(id="r2", name="crashed", created="2026-12-05T10:00:00", duration_ns=0, origin_wall_s=1.0,
              recording=Recording(), status="recording", recorder={**this_process(), "pid": _dead_pid()},
              options={"ignore_findings": ignored})  # fmt: skip
    path = tmp_path / "runs" / run.id
    path.mkdir(parents=True)
    write_meta(run, path)
    append(path, increment(recorded.recording, JournalCursor()) or {})
    crashed = load_run(path)
    assert crashed.status == "crashed"
    assert [f["kind"] for f in crashed.metrics["findings"]] == expected
    assert read_meta(path)["metrics"]["findings"] == crashed.metrics["findings"]
