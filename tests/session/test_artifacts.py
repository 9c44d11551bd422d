"""The files beside run.json: report.html always; a long run's trace.json and speedscope file only when
first exported (writing them takes a minute and a GB or more for an hour of samples); notes keep them
current or remove a stale long trace."""

from __future__ import annotations

from pathlib import Path

import pytest

import workbench.session.artifacts as session
from tests.render.synthetic import realistic_run
from workbench.cli import main
from workbench.saved.notes import note
from workbench.store import load_run, save_run


def _saved(tmp_path: Path) -> Path:
    run = realistic_run()
    path = save_run(run, tmp_path / "runs")
    return path


def test_short_run_gets_every_file(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    assert session.write_artifacts(load_run(path), path) == []
    assert {p.name for p in path.iterdir()} >= {"report.html", "trace.json", "cpu.speedscope.json"}


def test_long_run_defers_trace_and_speedscope_to_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _saved(tmp_path)
    monkeypatch.setattr(session, "EAGER_EXPORT_MAX_SAMPLES", 3)  # the synthetic run has more samples
    session.write_artifacts(load_run(path), path)
    names = {p.name for p in path.iterdir()}
    assert "report.html" in names and "trace.json" not in names and "cpu.speedscope.json" not in names
    assert main(["--store", str(tmp_path), "export", str(path), "--format", "perfetto"]) == 0
    assert capsys.readouterr().out.strip() == str(path / "trace.json")
    assert (path / "trace.json").is_file()
    # A note on the long run: its trace would be stale, so it goes; the report is rewritten with the note.
    note("after export", str(path))
    assert not (path / "trace.json").exists()
    assert "after export" in (path / "report.html").read_text()


def test_a_note_rewrites_a_short_runs_trace(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    session.write_artifacts(load_run(path), path)
    note("in the trace", str(path), at_ms=1.0)
    assert "1. in the trace" in (path / "trace.json").read_text()
