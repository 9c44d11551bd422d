"""Run directories on disk: save/load equality, corrupt files reported by name, and naming runs."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from workbench.model import (
    Annotation,
    CollectorStatus,
    Counter,
    Frame,
    Recording,
    Run,
    Span,
    StackSample,
    TokenEvent,
)
from workbench.store import CorruptRunError, default_store, list_runs, load_run, resolve_run, save_run
from workbench.store.rundir import EVENTS_FILE, RUN_FILE

THREAD = 140_000_000_000_123


def make_run(run_id: str = "20250101-000000-aaaa", name: str = "rag", created: str = "2025-01-01") -> Run:
    """Every event kind: spans (one open), tokens, counters, busy and idle samples, annotations."""
    rec = Recording(threads={THREAD: "MainThread"})
    rec.add_span(Span(1, "cell", "cell", 0, 5_000, None, THREAD))
    rec.add_span(Span(2, "llm", "llm", 10, None, 1, THREAD, {"model": "m", "usage_output_tokens": 4}))
    rec.add_token(TokenEvent(2, 100, 2, "ab"))
    rec.add_token(TokenEvent(2, 200, 2))
    rec.add_counter(Counter("cpu_pct", 50, 12.5))
    rec.add_sample(StackSample(0, THREAD, rec.intern_stack([Frame("f", "/u/f.py", 2)]), 1_000, 2))
    rec.add_sample(StackSample(1_000, THREAD, rec.intern_stack([]), 500))
    rec.dropped["samples"] = 1
    return Run(
        id=run_id,
        name=name,
        created=created,
        duration_ns=5_000,
        origin_wall_s=1_700_000_000.5,
        cell_source="x = 1",
        environment={"python": "3.11"},
        options={"rate_hz": 100},
        collectors=[CollectorStatus("pyspy", False, "not permitted")],
        recording=rec,
        metrics={"cpu": {"samples": 2}},
        annotations=[Annotation(10, "note", "me", end_ns=20)],
    )


def test_saved_run_loads_back_equal(tmp_path: Path) -> None:
    run = make_run()
    path = save_run(run, tmp_path / "runs")
    assert path == tmp_path / "runs" / run.id
    assert run.path == path
    assert sorted(p.name for p in path.iterdir()) == [EVENTS_FILE, RUN_FILE]  # no temporary files left
    loaded = load_run(path)
    assert loaded == run
    assert loaded.path == path


def test_saving_again_overwrites(tmp_path: Path) -> None:
    run = make_run()
    save_run(run, tmp_path)
    run.metrics["tokens"] = {"requests": 1}
    run.recording.add_counter(Counter("cpu_pct", 60, 14.0))
    loaded = load_run(save_run(run, tmp_path))
    assert loaded == run
    assert loaded.metrics["tokens"] == {"requests": 1}


def _saved(tmp_path: Path) -> Path:
    return save_run(make_run(), tmp_path / "runs")


def _rewrite_meta(path: Path, text: str) -> None:
    (path / RUN_FILE).write_text(text)


def _meta(path: Path) -> dict[str, object]:
    meta: dict[str, object] = json.loads((path / RUN_FILE).read_text())
    return meta


def _load_error(path: Path) -> str:
    with pytest.raises(CorruptRunError) as info:
        load_run(path)
    return str(info.value)


def test_run_json_that_is_not_json(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    _rewrite_meta(path, '{"id": "x", ')
    message = _load_error(path)
    assert str(path / RUN_FILE) in message
    assert "not valid JSON" in message


def test_run_json_of_the_wrong_type(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    _rewrite_meta(path, "[1, 2, 3]")
    message = _load_error(path)
    assert str(path / RUN_FILE) in message
    assert "expected a JSON object" in message and "list" in message


def test_run_json_missing_a_field(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    meta = _meta(path)
    del meta["created"]
    _rewrite_meta(path, json.dumps(meta))
    message = _load_error(path)
    assert RUN_FILE in message and str(path) in message
    assert "missing field 'created'" in message


def test_run_json_from_an_unknown_schema_version(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    _rewrite_meta(path, json.dumps({**_meta(path), "schema_version": 42}))
    message = _load_error(path)
    assert RUN_FILE in message
    assert re.search(r"schema_version 42 is not supported", message)


def test_missing_run_json(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    (path / RUN_FILE).unlink()
    message = _load_error(path)
    assert RUN_FILE in message and "not a run directory" in message


def test_missing_events_file(tmp_path: Path) -> None:
    path = _saved(tmp_path)
    (path / EVENTS_FILE).unlink()
    message = _load_error(path)
    assert EVENTS_FILE in message and "missing" in message


@pytest.mark.parametrize(
    "content",
    [
        b"not gzip at all",
        gzip.compress(b'{"schema_version": 1, "spans": [')[:-8],  # cut short
        gzip.compress(b"{not json"),
        gzip.compress(b"\xff\xfe\x00"),
    ],
    ids=["not-gzip", "truncated", "not-json", "not-utf8"],
)
def test_unreadable_events_file(tmp_path: Path, content: bytes) -> None:
    path = _saved(tmp_path)
    (path / EVENTS_FILE).write_bytes(content)
    message = _load_error(path)
    assert str(path / EVENTS_FILE) in message
    assert "unreadable" in message


@pytest.mark.parametrize(
    "document",
    [
        {"schema_version": 99, "spans": []},
        {"schema_version": 1, "spans": [[1]]},
        [1, 2, 3],
    ],
    ids=["unknown-version", "malformed-span", "not-an-object"],
)
def test_events_file_with_a_bad_document_is_named(tmp_path: Path, document: object) -> None:
    path = _saved(tmp_path)
    (path / EVENTS_FILE).write_bytes(gzip.compress(json.dumps(document).encode()))
    message = _load_error(path)
    assert EVENTS_FILE in message


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three saved runs; the working directory moves to tmp_path so no stray folder there can match a key."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "store"
    save_run(make_run("20250101-000000-aaa1", "alpha", "2025-01-01T00:00:00"), root / "runs")
    save_run(make_run("20250101-000000-aab2", "beta", "2025-01-01T00:00:01"), root / "runs")
    save_run(make_run("20250102-000000-ccc3", "alpha", "2025-01-02T00:00:00"), root / "runs")
    return root


def test_resolve_by_full_id_prefix_name_and_path(store: Path) -> None:
    runs = store / "runs"
    assert resolve_run("20250101-000000-aab2", store) == runs / "20250101-000000-aab2"
    assert resolve_run("20250102", store) == runs / "20250102-000000-ccc3"
    assert resolve_run("20250101-000000-aaa", store) == runs / "20250101-000000-aaa1"
    # A name used twice resolves to the newest run with it.
    assert resolve_run("alpha", store) == runs / "20250102-000000-ccc3"
    assert resolve_run("beta", store) == runs / "20250101-000000-aab2"
    direct = runs / "20250101-000000-aaa1"
    assert resolve_run(direct, store) == direct
    assert resolve_run(str(direct), store) == direct


def test_ambiguous_prefix_names_the_candidates(store: Path) -> None:
    with pytest.raises(LookupError, match="ambiguous") as info:
        resolve_run("20250101", store)
    assert "20250101-000000-aaa1" in str(info.value) and "20250101-000000-aab2" in str(info.value)


def test_unknown_run(store: Path) -> None:
    with pytest.raises(LookupError, match="no run 'gamma'"):
        resolve_run("gamma", store)


def test_default_store_follows_the_environment(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_STORE", str(store))
    assert default_store() == store
    assert resolve_run("beta") == store / "runs" / "20250101-000000-aab2"
    monkeypatch.delenv("WORKBENCH_STORE")
    assert default_store() == Path(".fmprofile")


def test_list_runs_oldest_first_with_unreadable_runs_flagged(store: Path) -> None:
    broken = store / "runs" / "20250103-000000-dead"
    broken.mkdir()
    (broken / RUN_FILE).write_text("{oops")
    (store / "runs" / "not-a-run").mkdir()  # no run.json: not listed at all
    rows = list_runs(store)
    assert len(rows) == 4
    # An unreadable run is listed with a load_error saying why.
    readable = [r for r in rows if "load_error" not in r]
    assert [r["id"] for r in readable] == [
        "20250101-000000-aaa1",
        "20250101-000000-aab2",
        "20250102-000000-ccc3",
    ]
    assert [r["name"] for r in readable] == ["alpha", "beta", "alpha"]
    (bad,) = [r for r in rows if "load_error" in r]
    assert bad["id"] == broken.name
    assert bad["path"] == str(broken)
    assert RUN_FILE in str(bad["load_error"])


def test_list_runs_of_an_empty_store(tmp_path: Path) -> None:
    assert list_runs(tmp_path / "nowhere") == []


@pytest.mark.parametrize("name", ["ü" * 200, "x" * 4096, "nul\0inside", "a/b/../c" * 40])
def test_a_run_whose_name_is_no_file_name_is_found_by_name(tmp_path: Path, name: str) -> None:
    run = make_run(name=name)
    save_run(run, tmp_path / "runs")
    assert resolve_run(name, tmp_path) == tmp_path / "runs" / run.id
    assert load_run(resolve_run(name, tmp_path)).name == name


FULL_DISK = """
import resource, signal, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from tests.store.test_rundir import make_run
from workbench.store import save_run
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG, as on a full disk
run = make_run()
run.cell_source = "x = 1\\n" * 50_000
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    save_run(run, Path({runs!r}))
except OSError as error:
    print("FAILED", error.errno)
"""


def test_a_full_disk_leaves_no_temporary_files(tmp_path: Path) -> None:
    import subprocess
    import sys

    runs = tmp_path / "runs"
    root = str(Path(__file__).resolve().parents[2])
    script = FULL_DISK.format(root=root, runs=str(runs))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert "FAILED 27" in out.stdout, out.stderr  # EFBIG: the save failed part-way
    assert [p.name for p in runs.rglob("*.tmp")] == []
