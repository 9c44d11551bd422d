"""Run <-> JSON documents: a round trip through real JSON text gives back an equal run; bad documents are
rejected with a RunFormatError that says what is wrong."""

from __future__ import annotations

import json
from typing import Any

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
from workbench.model.run import SCHEMA_VERSION
from workbench.model.serialize import (
    RunFormatError,
    events_to_recording,
    meta_to_run,
    recording_to_events,
    run_to_meta,
)

MAIN = 139_872_345_678_912  # a real-looking pthread id: bigger than 2**32


def make_full_run() -> Run:
    """A run with every event kind, an open span, an idle stack, text and no-text tokens, drops."""
    rec = Recording(threads={MAIN: "MainThread", 7: "worker"})
    rec.add_span(Span(1, "cell", "cell", 0, 9_000, None, MAIN))
    rec.add_span(Span(2, "llm gpt2", "llm", 100, 5_000, 1, MAIN, {"model": "gpt2", "shape": [2, 3]}))
    rec.add_span(Span(3, "open", "tool", 6_000, None, 1, 7, {"nested": {"a": [1, {"b": None}]}}))
    rec.add_token(TokenEvent(2, 1_000, 0, ""))
    rec.add_token(TokenEvent(2, 2_000, 3, "héllo ✓"))
    rec.add_token(TokenEvent(2, 3_000, 1))
    rec.add_counter(Counter("gpu.util_pct", 500, 42.5))
    rec.add_counter(Counter("mem_bytes", 600, 1.5e10))
    busy = rec.intern_stack([Frame("<module>", "/tmp/ipykernel_1/2.py", 1), Frame("f", "/u/a.py", 3)])
    idle = rec.intern_stack([])
    rec.add_sample(StackSample(0, MAIN, busy, 10_000, 3))
    rec.add_sample(StackSample(10_000, MAIN, idle, 5_000))
    rec.dropped["spans"] = 2
    return Run(
        id="20250102-030405-beef",
        name="rag-v2",
        created="2025-01-02T03:04:05+00:00",
        duration_ns=9_500,
        origin_wall_s=1_735_787_045.25,
        cell_source="docs = search(q)\nout = generate(docs)",
        environment={"python": "3.11.7", "gpu": None},
        options={"rate_hz": 100, "trace": True},
        collectors=[CollectorStatus("pyspy", True), CollectorStatus("nvml", False, "no NVIDIA driver")],
        recording=rec,
        metrics={"tokens": {"ttft_ms": {"p90": 0.9}}},
        annotations=[Annotation(100, "slow here", "me"), Annotation(200, "range", "", end_ns=900)],
        error="KeyboardInterrupt",
    )


def _round_trip(run: Run) -> Run:
    meta = json.loads(json.dumps(run_to_meta(run)))
    events = json.loads(json.dumps(recording_to_events(run.recording)))
    return meta_to_run(meta, events_to_recording(events))


def test_round_trip_through_json_text_gives_an_equal_run() -> None:
    run = make_full_run()
    loaded = _round_trip(run)
    assert loaded == run
    assert loaded.recording.threads[MAIN] == "MainThread"  # int keys survive JSON's string keys
    assert loaded.recording.stacks[1] == ()


def test_loaded_recording_keeps_interning() -> None:
    loaded = _round_trip(make_full_run())
    frames = [Frame("<module>", "/tmp/ipykernel_1/2.py", 1), Frame("f", "/u/a.py", 3)]
    # The intern tables are rebuilt on load: a known stack gets its old id, a new frame a new one.
    assert loaded.recording.intern_stack(frames) == 0
    assert loaded.recording.intern_stack([*frames, Frame("g", "/u/a.py", 9)]) == 2
    assert len(loaded.recording.frames) == 3


def test_documents_carry_the_schema_version() -> None:
    run = make_full_run()
    assert run_to_meta(run)["schema_version"] == SCHEMA_VERSION
    assert recording_to_events(run.recording)["schema_version"] == SCHEMA_VERSION


def _meta(**changes: Any) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads(json.dumps(run_to_meta(make_full_run())))
    meta.update(changes)
    return meta


def test_unknown_schema_version_is_rejected() -> None:
    with pytest.raises(RunFormatError, match=r"run\.json: schema_version 99 is not supported"):
        meta_to_run(_meta(schema_version=99), Recording())
    events = recording_to_events(Recording())
    events["schema_version"] = 0
    with pytest.raises(RunFormatError, match="events: schema_version 0"):
        events_to_recording(events)


def test_missing_field_is_named() -> None:
    meta = _meta()
    del meta["duration_ns"]
    with pytest.raises(RunFormatError, match="missing field 'duration_ns'"):
        meta_to_run(meta, Recording())


@pytest.mark.parametrize(
    "changes",
    [{"duration_ns": "soon"}, {"origin_wall_s": [1]}, {"collectors": [{"nme": "typo"}]}, {"environment": 3}],
)
def test_wrong_types_in_meta_are_rejected(changes: dict[str, Any]) -> None:
    with pytest.raises(RunFormatError, match=r"run\.json: malformed"):
        meta_to_run(_meta(**changes), Recording())


def test_meta_that_is_not_an_object_is_rejected() -> None:
    with pytest.raises(RunFormatError, match="expected a JSON object"):
        meta_to_run([1, 2], Recording())  # type: ignore[arg-type]


def _events(**changes: Any) -> dict[str, Any]:
    events: dict[str, Any] = json.loads(json.dumps(recording_to_events(make_full_run().recording)))
    events.update(changes)
    return events


@pytest.mark.parametrize(
    "changes",
    [
        {"spans": [[1, "too few fields"]]},
        {"tokens": None},
        {"counters": [["s", 1, "not a number"]]},
        {"samples": [[0, 1]]},
        {"threads": {"not-an-int": "x"}},
        {"threads": ["a list"]},
    ],
)
def test_malformed_events_are_rejected(changes: dict[str, Any]) -> None:
    with pytest.raises(RunFormatError, match="events"):
        events_to_recording(_events(**changes))


def test_missing_events_key_is_rejected() -> None:
    events = _events()
    del events["frames"]
    with pytest.raises(RunFormatError, match="frames"):
        events_to_recording(events)


def test_events_that_are_not_an_object_are_rejected() -> None:
    with pytest.raises(RunFormatError):
        events_to_recording([1, 2, 3])  # type: ignore[arg-type]
