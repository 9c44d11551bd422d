"""The Chrome trace export: a valid Trace Event Format document whose tracks say what the run recorded."""

from __future__ import annotations

import gzip
import json
import math
from collections import Counter as Tally
from typing import Any

from workbench.export import chrome_trace, write_chrome_trace
from workbench.model import Counter, Run, Span

from .conftest import DURATION_NS, F_F, F_G, F_H, F_MAIN, F_W, F_W_RUN, MAIN, MS, SAMPLES, WORKER

Event = dict[str, Any]
END_US = DURATION_NS / 1e3


def _events(trace: dict[str, Any], ph: str) -> list[Event]:
    return [e for e in trace["traceEvents"] if e["ph"] == ph]


def _thread_names(trace: dict[str, Any]) -> dict[tuple[int, int], Event]:
    return {(e["pid"], e["tid"]): e["args"] for e in _events(trace, "M") if e["name"] == "thread_name"}


def _process_names(trace: dict[str, Any]) -> dict[int, str]:
    return {e["pid"]: e["args"]["name"] for e in _events(trace, "M") if e["name"] == "process_name"}


def _pid(trace: dict[str, Any], name: str) -> int:
    return next(pid for pid, process in _process_names(trace).items() if process == name)


def _tid(trace: dict[str, Any], pid: int, thread_id: int) -> int:
    return next(
        t for (p, t), args in _thread_names(trace).items() if p == pid and args["thread_id"] == thread_id
    )


def _cpu_slices(trace: dict[str, Any]) -> list[Event]:
    cpu = _pid(trace, "CPU samples (py-spy)")
    return [e for e in _events(trace, "X") if e["pid"] == cpu]


def test_every_event_is_well_formed_and_inside_the_run(run: Run) -> None:
    trace = chrome_trace(run)
    assert trace["displayTimeUnit"] == "ms"
    assert trace["otherData"] == {
        "run_id": "20250101-120000-abcd",
        "run_name": "export-test",
        "created": "2025-01-01T12:00:00+00:00",
    }
    for event in trace["traceEvents"]:
        assert {"ph", "ts", "pid", "tid", "name"} <= event.keys(), event
        assert 0 <= event["ts"] <= END_US, event
        if event["ph"] == "M":
            assert event["ts"] == 0
        if event["ph"] == "X":
            assert event["dur"] >= 0
            assert event["ts"] + event["dur"] <= END_US + 1e-9, event


def test_every_track_in_use_has_a_process_and_thread_name(run: Run) -> None:
    trace = chrome_trace(run)
    processes = _process_names(trace)
    threads = _thread_names(trace)
    assert set(processes.values()) >= {"Python (spans and tokens)", "CPU samples (py-spy)"}
    for event in trace["traceEvents"]:
        if event["ph"] in ("X", "i"):
            assert event["pid"] in processes
            assert (event["pid"], event["tid"]) in threads
    sort_keys = {e["pid"] for e in _events(trace, "M") if e["name"] == "process_sort_index"}
    assert sort_keys == set(processes)


def test_pthread_ids_become_small_tids_with_the_real_id_kept(run: Run) -> None:
    trace = chrome_trace(run)
    python = _pid(trace, "Python (spans and tokens)")
    main, worker = _tid(trace, python, MAIN), _tid(trace, python, WORKER)
    assert main != worker
    assert max(main, worker) < 100
    names = _thread_names(trace)
    assert names[(python, main)]["name"] == "MainThread"
    assert names[(python, worker)]["name"] == "worker-1"


def test_spans_are_complete_events_with_ids_kind_and_attrs(run: Run) -> None:
    trace = chrome_trace(run)
    python = _pid(trace, "Python (spans and tokens)")
    spans = {e["args"]["span_id"]: e for e in _events(trace, "X") if e["pid"] == python}
    assert set(spans) == {1, 2, 3, 4}
    retrieve = spans[2]
    assert (retrieve["name"], retrieve["cat"]) == ("retrieve", "retrieval")
    assert (retrieve["ts"], retrieve["dur"]) == (1000.0, 2000.0)
    assert retrieve["args"] == {"span_id": 2, "parent_id": 1, "kind": "retrieval", "k": 5, "index": "faiss"}
    assert retrieve["tid"] == _tid(trace, python, MAIN)
    # The cell span never closed: it runs to the end of the run (10 ms).
    assert (spans[1]["ts"], spans[1]["dur"]) == (0.0, 10_000.0)
    assert spans[1]["args"]["parent_id"] is None
    assert spans[4]["tid"] == _tid(trace, python, WORKER)
    assert spans[4]["args"]["batch"] == [2, 3]


def test_tokens_are_thread_instants_on_the_requests_thread(run: Run) -> None:
    trace = chrome_trace(run)
    python = _pid(trace, "Python (spans and tokens)")
    tokens = _events(trace, "i")
    assert [e["ts"] for e in tokens] == [4000.0, 5000.0, 6000.0]
    assert [e["args"] for e in tokens] == [
        {"request_id": 3, "n_tokens": 1},
        {"request_id": 3, "n_tokens": 1},
        {"request_id": 3, "n_tokens": 2},
    ]
    for event in tokens:
        assert (event["name"], event["s"], event["pid"]) == ("token", "t", python)
        assert event["tid"] == _tid(trace, python, MAIN)


def test_counters_are_counter_events_per_series(run: Run) -> None:
    trace = chrome_trace(run)
    counters = _events(trace, "C")
    assert Tally(e["name"] for e in counters) == {"gpu.util_pct": 3, "cpu_pct": 1}
    gpu = [(e["ts"], e["args"]) for e in counters if e["name"] == "gpu.util_pct"]
    assert gpu == [(0.0, {"value": 10.0}), (5000.0, {"value": 55.0}), (9000.0, {"value": 80.0})]
    assert all(e["pid"] in _process_names(trace) for e in counters)


def test_sample_slices_merge_contiguous_equal_prefixes(run: Run) -> None:
    trace = chrome_trace(run)
    cpu = _pid(trace, "CPU samples (py-spy)")
    main, worker = _tid(trace, cpu, MAIN), _tid(trace, cpu, WORKER)
    got = Tally((e["tid"], e["name"], e["ts"], e["dur"]) for e in _cpu_slices(trace))
    # Worked out from SAMPLES: A A B run 0-3 ms, idle 3-4, C 4-5, a gap, then C A run 6-9 ms.
    expected = Tally(
        [
            *[(main, F_MAIN.function, s, d) for s, d in ((0.0, 3000.0), (4000.0, 1000.0), (6000.0, 3000.0))],
            *[(main, F_F.function, s, d) for s, d in ((0.0, 3000.0), (4000.0, 1000.0), (6000.0, 3000.0))],
            (main, F_G.function, 0.0, 2000.0),
            (main, F_G.function, 7000.0, 2000.0),
            (main, F_H.function, 2000.0, 1000.0),
            (worker, F_W_RUN.function, 500.0, 2000.0),
            (worker, F_W.function, 500.0, 2000.0),
        ]
    )
    assert got == expected
    h = next(e for e in _cpu_slices(trace) if e["name"] == "h")
    assert h["args"] == {"file": F_H.file, "line": F_H.line}


def _open_stack(slices: list[Event], tid: int, t_us: float) -> list[tuple[str, str, int]]:
    """The slices open at t on one track, outermost first. A parent and a child can share ts and dur; the
    export emits the parent first, and the stable sort keeps that order."""
    open_ = [e for e in slices if e["tid"] == tid and e["ts"] <= t_us < e["ts"] + e["dur"]]
    open_.sort(key=lambda e: (e["ts"], -e["dur"]))
    return [(e["name"], e["args"]["file"], e["args"]["line"]) for e in open_]


def test_sample_slices_reconstruct_every_sampled_stack(run: Run) -> None:
    trace = chrome_trace(run)
    cpu = _pid(trace, "CPU samples (py-spy)")
    slices = _cpu_slices(trace)
    for thread, start_ms, dur_ms, frames in SAMPLES:
        midpoint_us = (start_ms + dur_ms / 2) * 1000
        expected = [(f.function, f.file, f.line) for f in frames]
        assert _open_stack(slices, _tid(trace, cpu, thread), midpoint_us) == expected, (thread, start_ms)


def test_slices_on_one_track_nest_properly(run: Run) -> None:
    trace = chrome_trace(run)
    tracks: dict[tuple[int, int], list[Event]] = {}
    for event in _events(trace, "X"):
        tracks.setdefault((event["pid"], event["tid"]), []).append(event)
    for events in tracks.values():
        for a in events:
            for b in events:
                a0, a1, b0, b1 = a["ts"], a["ts"] + a["dur"], b["ts"], b["ts"] + b["dur"]
                disjoint = a1 <= b0 or b1 <= a0
                nested = (a0 <= b0 and b1 <= a1) or (b0 <= a0 and a1 <= b1)
                assert disjoint or nested, (a, b)


def test_trace_is_strict_json_even_with_nan_and_objects() -> None:
    from .conftest import make_run

    run = make_run()
    run.recording.spans[1].attrs["score"] = math.nan
    run.recording.spans[1].attrs["shape"] = (2, 3)
    run.recording.spans[1].attrs["obj"] = object()
    run.recording.add_counter(Counter("power_w", 1 * MS, math.inf))
    trace = chrome_trace(run)
    text = json.dumps(trace, allow_nan=False)
    assert json.loads(text) == trace
    assert [e for e in _events(trace, "C") if e["name"] == "power_w"] == []


def test_times_past_the_end_are_clamped_to_the_run() -> None:
    from .conftest import make_run

    run = make_run()
    run.recording.add_span(Span(9, "late", "chain", 9 * MS, 12 * MS, 1, MAIN))
    run.recording.add_counter(Counter("cpu_pct", DURATION_NS + 50_000, 1.0))
    trace = chrome_trace(run)
    late = next(e for e in _events(trace, "X") if e["name"] == "late")
    assert (late["ts"], late["dur"]) == (9000.0, 1000.0)
    assert max(e["ts"] for e in trace["traceEvents"]) == END_US


def test_empty_run_is_a_valid_trace() -> None:
    trace = chrome_trace(Run(id="r", name="", created="", duration_ns=0, origin_wall_s=0.0))
    assert {e["ph"] for e in trace["traceEvents"]} == {"M"}
    assert _process_names(trace) == {_pid(trace, "Python (spans and tokens)"): "Python (spans and tokens)"}


def test_write_chrome_trace_plain_and_gzipped(run: Run, tmp_path: Any) -> None:
    expected = json.loads(json.dumps(chrome_trace(run)))
    plain = write_chrome_trace(run, tmp_path / "trace.json")
    assert json.loads(plain.read_text()) == expected
    zipped = write_chrome_trace(run, str(tmp_path / "trace.json.gz"))
    assert json.loads(gzip.decompress(zipped.read_bytes())) == expected


def test_notes_are_a_track_of_slices_and_instants(run: Run) -> None:
    from workbench.model import Annotation

    run.annotations = [
        Annotation(t_ns=None, text="whole run"),
        Annotation(t_ns=1 * MS, text="warm-up", end_ns=3 * MS, author="ana"),
        Annotation(t_ns=2 * MS, text="here"),
    ]
    trace = chrome_trace(run)
    pid = _pid(trace, "Notes")
    notes = [e for e in trace["traceEvents"] if e.get("cat") == "note"]
    assert [(e["ph"], e["name"], e["ts"], e.get("dur")) for e in notes] == [
        ("X", "2. warm-up", 1000.0, 2000.0),
        ("i", "3. here", 2000.0, None),
    ]
    assert all(e["pid"] == pid for e in notes) and notes[0]["args"]["author"] == "ana"
    assert trace["otherData"]["notes"] == ["whole run"]
    json.loads(json.dumps(trace))
