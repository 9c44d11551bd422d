"""The speedscope export: the file-format schema's structure, per-thread weights, valid frame indices."""

from __future__ import annotations

import json
from typing import Any

from workbench.export import speedscope, write_speedscope
from workbench.model import Frame, Recording, Run, StackSample

from .conftest import MS, STACK_A, STACK_B, STACK_C, STACK_W

SCHEMA = "https://www.speedscope.app/file-format-schema.json"
UNITS = {"none", "nanoseconds", "microseconds", "milliseconds", "seconds", "bytes"}


def _profiles_by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in doc["profiles"]}


def test_document_follows_the_file_format(run: Run) -> None:
    doc = speedscope(run)
    assert doc["$schema"] == SCHEMA
    assert doc["exporter"] == "fm-workbench"
    assert doc["name"] == "export-test"
    assert 0 <= doc["activeProfileIndex"] < len(doc["profiles"])
    for frame in doc["shared"]["frames"]:
        assert isinstance(frame["name"], str)
        assert isinstance(frame["file"], str)
        assert isinstance(frame["line"], int)
    for profile in doc["profiles"]:
        assert profile["type"] == "sampled"
        assert profile["unit"] in UNITS
        assert profile["unit"] == "nanoseconds"
        assert profile["endValue"] >= profile["startValue"]
        assert len(profile["samples"]) == len(profile["weights"])
    assert json.loads(json.dumps(doc)) == doc


def test_one_profile_per_sampled_thread_with_busy_time_as_weights(run: Run) -> None:
    profiles = _profiles_by_name(speedscope(run))
    assert set(profiles) == {"MainThread", "worker-1"}
    # Main thread busy samples: A 1 + A 1 + B 1 + C 1 + C 1 + A 2 = 7 ms; its idle millisecond is left out.
    main = profiles["MainThread"]
    assert main["weights"] == [1 * MS, 1 * MS, 1 * MS, 1 * MS, 1 * MS, 2 * MS]
    assert sum(main["weights"]) == 7 * MS
    assert main["endValue"] - main["startValue"] == 7 * MS
    # Worker: two busy 1 ms samples; the 3 ms idle sample is not a sample in speedscope.
    assert sum(profiles["worker-1"]["weights"]) == 2 * MS
    assert len(profiles["worker-1"]["samples"]) == 2


def test_samples_decode_to_the_recorded_stacks_root_first(run: Run) -> None:
    doc = speedscope(run)
    frames = doc["shared"]["frames"]

    def decode(stack: list[int]) -> list[Frame]:
        assert all(isinstance(i, int) and 0 <= i < len(frames) for i in stack)
        return [Frame(frames[i]["name"], frames[i]["file"], frames[i]["line"]) for i in stack]

    profiles = _profiles_by_name(doc)
    main = [decode(stack) for stack in profiles["MainThread"]["samples"]]
    assert main == [STACK_A, STACK_A, STACK_B, STACK_C, STACK_C, STACK_A]
    assert [decode(stack) for stack in profiles["worker-1"]["samples"]] == [STACK_W, STACK_W]


def test_busiest_thread_is_shown_first(run: Run) -> None:
    doc = speedscope(run)
    assert doc["profiles"][doc["activeProfileIndex"]]["name"] == "MainThread"


def test_samples_are_ordered_in_time_within_a_thread() -> None:
    rec = Recording(threads={7: "t"})
    early, late = rec.intern_stack([Frame("early", "a.py", 1)]), rec.intern_stack([Frame("late", "a.py", 2)])
    rec.add_sample(StackSample(5 * MS, 7, late, 3 * MS))
    rec.add_sample(StackSample(0, 7, early, 5 * MS))
    doc = speedscope(Run(id="r", name="n", created="", duration_ns=8 * MS, origin_wall_s=0.0, recording=rec))
    (profile,) = doc["profiles"]
    assert profile["samples"] == [[0], [1]]
    assert profile["weights"] == [5 * MS, 3 * MS]


def test_idle_only_and_empty_runs_have_no_profiles() -> None:
    rec = Recording(threads={7: "idle"})
    rec.add_sample(StackSample(0, 7, rec.intern_stack([]), 4 * MS))
    idle = Run(id="r", name="", created="", duration_ns=4 * MS, origin_wall_s=0.0, recording=rec)
    assert speedscope(idle)["profiles"] == []
    assert speedscope(idle)["name"] == "r"  # no name: the id names the profile group
    empty = Run(id="e", name="", created="", duration_ns=0, origin_wall_s=0.0)
    assert speedscope(empty)["profiles"] == []


def test_write_speedscope(run: Run, tmp_path: Any) -> None:
    path = write_speedscope(run, tmp_path / "cpu.speedscope.json")
    assert json.loads(path.read_text()) == speedscope(run)
