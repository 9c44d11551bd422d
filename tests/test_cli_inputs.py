"""Every `workbench` command on damaged runs and hostile names: one clear error line (exit 2) or a normal
answer, never a traceback; a bad run is listed as unreadable and never takes the listing down; names
print with their control characters escaped, so nothing reaches the terminal as an escape sequence."""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from workbench.cli import main
from workbench.render.terminal import terminal_safe

ESCAPES = "\x1b]0;pwned\x07\x1b[31mred\x1b[0m\u202e"


def _meta(edit: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    def corrupt(run: Path) -> None:
        meta = json.loads((run / "run.json").read_text())
        result = edit(meta)
        (run / "run.json").write_text(json.dumps(meta if result is None else result))

    return corrupt


def _write(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda run: (run / name).write_bytes(data)


def _set(path: str, value: Any) -> Callable[[Path], None]:
    def edit(meta: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = meta
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value

    return _meta(edit)


CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "empty run.json": _write("run.json", b""),
    "run.json not json": _write("run.json", b"{not json"),
    "run.json an array": _write("run.json", b"[1, 2]"),
    "run.json latin-1": _write("run.json", b'{"id": "\xff"}'),
    "run.json nested deep": _write("run.json", b"[" * 200_000 + b"]" * 200_000),
    "run.json empty object": _write("run.json", b"{}"),
    "id a number": _set("id", 7),
    "name a list": _set("name", ["a"]),
    "created a number": _set("created", 5),
    "origin_wall_s a string": _set("origin_wall_s", "x"),
    "duration_ns a string": _set("duration_ns", "x"),
    "schema from the future": _set("schema_version", 999),
    "metrics a string": _set("metrics", "x"),
    "wall_s a string": _set("metrics.wall_s", "x"),
    "tokens a list": _set("metrics.tokens", []),
    "ttft a string": _set("metrics.tokens.ttft_ms", "x"),
    "ttft p50 a string": _set("metrics.tokens.ttft_ms", {"p50": "x"}),
    "findings a string": _set("metrics.findings", "x"),
    "findings of numbers": _set("metrics.findings", [1, 2]),
    "cpu a number": _set("metrics.cpu", 3),
    "annotations a string": _set("annotations", "x"),
    "annotation without text": _set("annotations", [{"t_ns": 1}]),
    "collectors a string": _set("collectors", "x"),
    "environment a number": _set("environment", 5),
    "events missing": lambda run: (run / "events.json.gz").unlink(),
    "events not gzip": _write("events.json.gz", b"plain"),
    "events truncated": lambda run: (run / "events.json.gz").write_bytes(
        (run / "events.json.gz").read_bytes()[:40]
    ),
    "events wrong shape": _write("events.json.gz", gzip.compress(b'{"schema_version": 1, "spans": 5}')),
    "events nested deep": _write("events.json.gz", gzip.compress(b"[" * 200_000 + b"]" * 200_000)),
    "ops not npz": _write("ops.npz", b"garbage"),
}


def _commands(run: str) -> list[list[str]]:
    return [
        ["runs"],
        ["runs", "--name", "good"],
        ["show", run],
        ["show", run, "--findings"],
        ["check", run, "--budget", "wall_s<=5"],
        ["compare", "good", run],
        ["export", run, "--format", "perfetto"],
        ["note", run, "a note"],
    ]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("pristine")
    for name in ("good", "victim"):
        with (
            wb.profile(name=name, store=store, cpu=False),
            wb.span("stage"),
            wb.llm_request(model="m") as request,
        ):
            request.chunk(3)
    return store


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_every_command_on_a_damaged_run_answers_in_one_line(
    corruption: str, pristine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    shutil.copytree(pristine, store)
    victim = next(p for p in (store / "runs").iterdir() if '"victim"' in (p / "run.json").read_text())
    CORRUPTIONS[corruption](victim)
    for command in _commands(victim.name):
        status = main(["--store", str(store), *command])  # an escaping exception fails the test
        out, err = capsys.readouterr()
        assert status in (0, 1, 2), (command, status)
        assert "Traceback" not in out + err, (command, err)
        if status == 2:
            assert len(err.strip().splitlines()) == 1 and err.startswith("workbench"), (command, err)
        if command == ["runs"]:
            assert status == 0 and "good" in out, out  # the good run is still listed


def test_a_run_json_of_the_wrong_shape_is_listed_as_unreadable(pristine: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(pristine, store)
    victim = next(p for p in (store / "runs").iterdir() if '"victim"' in (p / "run.json").read_text())
    _set("origin_wall_s", "x")(victim)
    rows = {row["id"]: row for row in wb.store.list_runs(store)}
    assert "origin_wall_s" in rows[victim.name]["load_error"]
    assert len(wb.runs(store)) == 2


def test_names_reach_the_terminal_with_their_escapes_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with wb.profile(name=f"run{ESCAPES}", store=tmp_path, cpu=False), wb.span(f"span{ESCAPES}"):
        pass
    with wb.profile(name="other", store=tmp_path, cpu=False), wb.span(f"span{ESCAPES}"):
        pass
    for command in (["runs"], ["show", "-1"], ["compare", "-2", "-1"], ["show", f"run{ESCAPES}"]):
        assert main(["--store", str(tmp_path), *command]) == 0
        out, err = capsys.readouterr()
        for raw in ("\x1b", "\x07", "\u202e"):
            assert raw not in out + err, (command, out)
    assert main(["--store", str(tmp_path), "show", f"no such {ESCAPES}"]) == 2
    _, err = capsys.readouterr()
    assert "\x1b" not in err and "\\x1b" in err


def test_terminal_safe_keeps_newlines_and_tabs_and_escapes_the_rest() -> None:
    assert terminal_safe("a\tb\nc") == "a\tb\nc"
    assert terminal_safe("\x1b[31m\x07\x9b\u202e\x00") == "\\x1b[31m\\x07\\x9b\\u202e\\x00"
    assert terminal_safe("naïve 東京 🙂") == "naïve 東京 🙂"
