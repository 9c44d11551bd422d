"""The files beside run.json are derived, written when first asked for: never while a cell ends, always
there when the CLI, the server extension or an export wants them, and removed by a note that makes them
stale (written again, with the note, on next use)."""

from __future__ import annotations

from pathlib import Path

import pytest

import workbench as wb
import workbench.session.artifacts as artifacts
from tests.render.synthetic import realistic_run
from workbench.cli import main
from workbench.saved.notes import note
from workbench.store import load_run, save_run

ALL = {"report.html", "trace.json", "cpu.speedscope.json"}


def _saved(tmp_path: Path) -> Path:
    return save_run(realistic_run(), tmp_path / "runs")


def test_a_profiled_block_ends_without_writing_the_derived_files(tmp_path: Path) -> None:
    with wb.profile(name="short", store=tmp_path) as run:
        sum(i * i for i in range(100_000))
    assert run.path is not None
    assert {p.name for p in run.path.iterdir()} == {"run.json", "events.json.gz"}


def test_write_artifacts_writes_every_file_or_the_named_ones(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    assert artifacts.write_artifacts(load_run(path), path, ("report.html",)) == []
    assert {p.name for p in path.iterdir()} & ALL == {"report.html"}
    assert artifacts.write_artifacts(load_run(path), path) == []
    assert {p.name for p in path.iterdir()} >= ALL


@pytest.mark.parametrize(("fmt", "name"), [("perfetto", "trace.json"), ("html", "report.html")])
def test_export_writes_the_file_it_was_asked_for(
    fmt: str, name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _saved(tmp_path)
    assert main(["--store", str(tmp_path), "export", str(path), "--format", fmt]) == 0
    assert capsys.readouterr().out.strip() == str(path / name)
    assert {p.name for p in path.iterdir()} & ALL == {name}


def test_ensure_artifact_writes_once_and_then_reuses(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    report = artifacts.ensure_artifact(path, "report.html")
    stamp = report.stat().st_mtime_ns
    assert artifacts.ensure_artifact(path, "report.html").stat().st_mtime_ns == stamp


def test_ensure_artifact_names_the_problem_when_it_cannot_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _saved(tmp_path)

    def broken(run: object, target: Path) -> None:
        raise ValueError("no room for the page")

    monkeypatch.setitem(artifacts._WRITERS, "report.html", broken)
    with pytest.raises(OSError, match=r"could not write report\.html: ValueError: no room for the page"):
        artifacts.ensure_artifact(path, "report.html")


def test_a_note_removes_the_stale_files_and_the_next_use_shows_it(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    artifacts.write_artifacts(load_run(path), path)
    added = note("in the trace", str(path), at_ms=1.0)
    assert added.problems == ()
    names = {p.name for p in path.iterdir()}
    # The speedscope file shows no notes: it stays.
    assert "report.html" not in names and "trace.json" not in names and "cpu.speedscope.json" in names
    assert "1. in the trace" in artifacts.ensure_artifact(path, "trace.json").read_text()
    assert "in the trace" in artifacts.ensure_artifact(path, "report.html").read_text()


def test_a_sweep_runs_report_after_a_note_is_the_sweep_page_again(tmp_path: Path) -> None:
    from tests.render.test_sweep_view import _sweep

    path = save_run(_sweep(), tmp_path / "runs")
    artifacts.write_artifacts(load_run(path), path, ("report.html",))
    first = (path / "report.html").read_text()
    assert "sweep sweep-b" in first
    note("a look at the front", str(path))
    assert "sweep sweep-b" in artifacts.ensure_artifact(path, "report.html").read_text()
