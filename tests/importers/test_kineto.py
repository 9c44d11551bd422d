"""The Kineto importer against real traces recorded on NVIDIA GPUs, and a CPU trace recorded here."""

from __future__ import annotations

import gzip
import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.kineto_data import kineto_trace, raw_events
from workbench.importers import kineto_decode, kineto_stream
from workbench.importers.kineto import (
    MAX_OPS,
    KinetoClockMap,
    KinetoFormatError,
    KinetoTrace,
    annotation_times,
    ops_from_kineto,
    read_kineto,
    read_kineto_bytes,
    run_from_kineto,
)
from workbench.model.ops import CATEGORIES, OpTable
from workbench.model.ops_io import ops_from_bytes, ops_to_bytes

SKIPPED = ("M", "s", "f", "i")


def complete(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e.get("ph") == "X" and e.get("cat") != "Trace"]


@pytest.fixture(scope="module")
def alexnet() -> KinetoTrace:
    return read_kineto(kineto_trace("alexnet_cuda.json.gz"))


@pytest.fixture(scope="module")
def alexnet_events() -> list[dict[str, Any]]:
    return raw_events(kineto_trace("alexnet_cuda.json.gz"))


def table_of(trace: KinetoTrace, **options: Any) -> OpTable:
    return ops_from_kineto(trace, KinetoClockMap.from_origin(trace.start_us), **options)


@pytest.mark.parametrize("name", ["alexnet_cuda.json.gz", "sampled_rank0_cuda.json.gz"])
def test_counts_per_category_match_the_json(name: str) -> None:
    path = kineto_trace(name)
    expected = Counter(e["cat"] for e in complete(raw_events(path)))
    frame = table_of(read_kineto(path)).frame()
    counts = frame["category"].value_counts().to_dict()
    for category in ("kernel", "gpu_memcpy", "gpu_memset", "cpu_op", "cuda_runtime"):
        assert counts.get(category, 0) == expected.get(category, 0), category
    assert len(frame) == sum(expected.values())


def test_a_known_event_maps_by_the_formula(
    alexnet: KinetoTrace, alexnet_events: list[dict[str, Any]]
) -> None:
    kernel = next(e for e in complete(alexnet_events) if e["cat"] == "kernel")
    clock = KinetoClockMap(offset_ns=-1.6e18, scale=1.0)
    table = ops_from_kineto(alexnet, clock)
    row = int(
        np.flatnonzero((table.correlation == kernel["args"]["correlation"]) & table.mask(["kernel"]))[0]
    )
    # The plain formula in float64 at ~1.7e18 ns is good to a float step (256 ns) ...
    assert table.start_ns[row] == pytest.approx(kernel["ts"] * 1000 - 1.6e18, abs=512)
    assert table.end_ns[row] - table.start_ns[row] == round(kernel["dur"] * 1000)
    # ... and with a reference point (from_origin, from_markers) it is exact to the nanosecond.
    origin = 1_695_835_542_514_261.0
    exact = ops_from_kineto(alexnet, KinetoClockMap.from_origin(origin))
    assert exact.start_ns[row] == (kernel["ts"] - int(origin)) * 1000
    assert table.names[table.name_id[row]] == kernel["name"]


def test_rows_are_sorted_and_times_exact_from_the_origin(alexnet: KinetoTrace) -> None:
    table = table_of(alexnet)
    assert np.all(np.diff(table.start_ns) >= 0)
    assert table.start_ns[0] == 0
    assert np.all(table.start_ns % 1000 == 0)  # whole-µs timestamps stay whole after the mapping
    assert np.all(table.end_ns >= table.start_ns)


def test_lanes_are_threads_first_then_streams(alexnet: KinetoTrace) -> None:
    table = table_of(alexnet)
    kinds = [lane.kind for lane in table.lanes]
    assert kinds == sorted(kinds, key=lambda kind: kind != "thread")
    assert table.lanes[0].label == "thread 2869224 (python3.10)"
    streams = [(lane.device, lane.ident) for lane in table.lanes if lane.kind == "stream"]
    assert streams == sorted(streams)
    assert (0, 7) in streams
    assert "GPU 0 · stream 7" in [lane.label for lane in table.lanes]
    frame = table.frame()
    assert set(frame.loc[frame["category"] == "kernel", "lane"]) <= {
        f"GPU 0 · stream {s}" for _, s in streams
    }
    assert set(frame.loc[frame["category"] == "cpu_op", "lane"]) == {"thread 2869224 (python3.10)"}


def test_unnamed_threads_get_a_default_label() -> None:
    trace = read_kineto(kineto_trace("diff_control_cuda.json.gz"))
    labels = [lane.label for lane in table_of(trace).lanes if lane.kind == "thread"]
    assert "thread -1029147072" in labels


def test_kernel_and_copy_details(alexnet: KinetoTrace, alexnet_events: list[dict[str, Any]]) -> None:
    kernel = next(e for e in complete(alexnet_events) if e["cat"] == "kernel")
    copy = next(e for e in complete(alexnet_events) if e["cat"] == "gpu_memcpy")
    table = table_of(alexnet)
    rows = {int(c): i for i, c in enumerate(table.correlation)}
    a = kernel["args"]
    assert table.detail(rows[a["correlation"]]) == (
        f"grid {a['grid']} · block {a['block']} · "
        f"{a['registers per thread']} regs · {a['shared memory']} B smem"
    )
    assert table.detail(rows[copy["args"]["correlation"]]).startswith(f"{copy['args']['bytes']} bytes · ")
    assert table.detail(rows[copy["args"]["correlation"]]).endswith(" GB/s")


def test_cpu_op_shapes_detail_and_empty_shapes_omitted() -> None:
    events = raw_events(kineto_trace("diff_control_cuda.json.gz"))
    shaped = next(
        e for e in complete(events) if e["cat"] == "cpu_op" and any(e["args"].get("Input Dims", []))
    )
    trace = read_kineto(kineto_trace("diff_control_cuda.json.gz"))
    frame = table_of(trace).frame()
    details = set(frame.loc[frame["name"] == shaped["name"], "detail"])
    assert f"shapes {json.dumps(shaped['args']['Input Dims'])}" in details
    zeros = frame[frame["name"] == "aten::zeros"]  # Input Dims [[], [], [], [], []]: nothing to show
    assert "shapes [[], [], [], [], []]" not in set(zeros["detail"])


def test_every_launch_matches_exactly_one_kernel(
    alexnet: KinetoTrace, alexnet_events: list[dict[str, Any]]
) -> None:
    kernels = Counter(e["args"]["correlation"] for e in complete(alexnet_events) if e["cat"] == "kernel")
    launches = [e["args"]["correlation"] for e in complete(alexnet_events) if e["name"] == "cudaLaunchKernel"]
    assert launches and all(kernels[c] == 1 for c in launches)
    frame = table_of(alexnet).frame()
    table_kernels = Counter(frame.loc[frame["category"] == "kernel", "correlation"])
    table_launches = frame.loc[frame["name"] == "cudaLaunchKernel", "correlation"]
    assert sorted(table_launches) == sorted(launches)
    assert all(table_kernels[c] == 1 for c in table_launches)


def test_window_keeps_overlapping_events(alexnet: KinetoTrace, alexnet_events: list[dict[str, Any]]) -> None:
    kernels = sorted((e for e in complete(alexnet_events) if e["cat"] == "kernel"), key=lambda e: e["ts"])
    lo, hi = kernels[10]["ts"] + 0.5, kernels[20]["ts"]
    expected = [e for e in complete(alexnet_events) if e["ts"] < hi and e["ts"] + e["dur"] > lo]
    table = table_of(alexnet, window_us=(lo, hi))
    assert len(table) == len(expected)
    assert Counter(table.frame()["category"]) == Counter(e["cat"] for e in expected)


def test_drop_names_and_max_events(alexnet: KinetoTrace) -> None:
    full = table_of(alexnet)
    without = table_of(alexnet, drop_names={"cudaLaunchKernel"})
    assert "cudaLaunchKernel" not in without.names
    assert len(without) == len(full) - full.frame()["name"].eq("cudaLaunchKernel").sum()
    capped = table_of(alexnet, max_events=100)
    assert len(capped) == 100 and capped.dropped == len(full) - 100
    assert np.array_equal(capped.start_ns, full.start_ns[:100])
    assert full.dropped == 0 and MAX_OPS == 2_000_000


def test_plain_and_gzipped_files_read_the_same(alexnet: KinetoTrace, tmp_path: Path) -> None:
    plain = tmp_path / "trace.json.gz"  # the gzip magic decides, not the suffix
    plain.write_bytes(gzip.decompress(kineto_trace("alexnet_cuda.json.gz").read_bytes()))
    again = read_kineto(plain)
    assert np.array_equal(again.ts_rel_us, alexnet.ts_rel_us)
    assert again.names == alexnet.names and again.device_properties == alexnet.device_properties


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"traceEvents": [{"ph": "X", "ts": 1', "not valid JSON"),
        (b'{"traceEvents": [{"ph": "X", "ts": "soon"}]}', "unexpected event"),
        (b"not json at all", "not valid JSON"),
        (b"[1, 2]", "not an object"),
        (b'{"schemaVersion": 1}', "no traceEvents"),
        (gzip.compress(b'{"traceEvents": []}')[:-12], "damaged gzip"),
    ],
)
def test_bad_files_raise_a_format_error_naming_the_file(content: bytes, problem: str, tmp_path: Path) -> None:
    path = tmp_path / "bad_trace.json"
    path.write_bytes(content)
    with pytest.raises(KinetoFormatError, match=problem) as caught:
        read_kineto(path)
    assert str(path) in str(caught.value)


def test_an_empty_trace_gives_an_empty_table() -> None:
    trace = read_kineto_bytes(b'{"traceEvents": []}', "empty.json")
    assert len(table_of(trace)) == 0


def test_torch_cpu_trace_with_base_time_and_marker_alignment(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from torch.profiler import ProfilerActivity, profile, record_function

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        with record_function("workbench::mark"):
            pass
        a = torch.ones(64, 64)
        for _ in range(3):
            a = a @ a
    path = tmp_path / "cpu_trace.json"
    prof.export_chrome_trace(str(path))
    document = json.loads(path.read_text())
    trace = read_kineto(path)
    assert trace.base_time_ns == document["baseTimeNanoseconds"]
    marks = annotation_times(trace, "workbench::mark")
    raw_mark = next(e for e in document["traceEvents"] if e.get("name") == "workbench::mark")
    assert marks == [pytest.approx(document["baseTimeNanoseconds"] / 1000 + raw_mark["ts"], abs=0.5)]
    assert abs(marks[0] / 1e6 - document["baseTimeNanoseconds"] / 1e9) < 366 * 86400  # absolute, not relative
    clock = KinetoClockMap.from_markers([(marks[0], 5_000_000)])
    table = ops_from_kineto(trace, clock, drop_names={"workbench::mark"})
    assert "workbench::mark" not in table.names
    marked = ops_from_kineto(trace, clock)
    mark_row = marked.names.index("workbench::mark")
    # Absolute µs in float64 step by 0.25 µs near 1.8e15: the marker lands within one step.
    assert abs(int(marked.start_ns[marked.name_id == mark_row][0]) - 5_000_000) <= 250
    frame = table.frame()
    assert (frame["name"] == "aten::mm").sum() == 3
    assert "shapes [[64, 64], [64, 64]]" in set(frame.loc[frame["name"] == "aten::mm", "detail"])
    mm = next(e for e in document["traceEvents"] if e.get("name") == "aten::mm")
    row = frame.index[frame["name"] == "aten::mm"][0]
    # Relative to the marker, times keep the file's nanoseconds: the epoch is added exactly.
    mark_ns = int(marked.start_ns[marked.name_id == mark_row][0])
    assert frame.at[row, "start_ms"] * 1e6 - mark_ns == pytest.approx(
        (mm["ts"] - raw_mark["ts"]) * 1000, abs=1
    )
    assert frame.at[row, "duration_ms"] * 1e6 == pytest.approx(mm["dur"] * 1000, abs=0.5)


def test_from_markers_with_two_pairs_fits_the_scale() -> None:
    t0 = 1.7e15
    clock = KinetoClockMap.from_markers([(t0, 1_000), (t0 + 1e6, 1_000 + 1_000_010_000)])  # 10 ppm drift
    assert clock.scale == pytest.approx(1.00001, rel=1e-12)
    mapped = clock.to_run_ns(np.array([t0, t0 + 5e5, t0 + 1e6]))
    assert mapped.tolist() == [1_000, 1_000 + 500_005_000, 1_000 + 1_000_010_000]
    single = KinetoClockMap.from_markers([(t0 + 0.25, 42)])
    assert single.scale == 1.0 and single.to_run_ns(np.array([t0 + 0.25, t0 + 1.25])).tolist() == [42, 1042]
    with pytest.raises(ValueError):
        KinetoClockMap.from_markers([])


def test_from_origin_and_the_plain_formula() -> None:
    clock = KinetoClockMap.from_origin(1_695_835_542_514_261.0)
    assert clock.to_run_ns(np.array([1_695_835_542_514_261.0, 1_695_835_542_514_262.0])).tolist() == [0, 1000]
    plain = KinetoClockMap(offset_ns=500.0, scale=2.0)
    assert plain.to_run_ns(np.array([1.5, 10.0])).tolist() == [round(1.5 * 1000 * 2 + 500), 20_500]


def test_a_converted_table_round_trips_through_ops_io() -> None:
    table = table_of(read_kineto(kineto_trace("sampled_rank0_cuda.json.gz")))
    again = ops_from_bytes(ops_to_bytes(table))
    for column in ("start_ns", "end_ns", "category", "name_id", "lane_id", "correlation", "detail_id"):
        assert np.array_equal(getattr(again, column), getattr(table, column)), column
    assert (again.names, again.lanes, again.details) == (table.names, table.lanes, table.details)
    assert again.devices == table.devices


def test_run_from_kineto_on_alexnet(alexnet: KinetoTrace, alexnet_events: list[dict[str, Any]]) -> None:
    run = run_from_kineto(alexnet)
    assert run.name == "alexnet_cuda"
    ops = run.ops
    assert (ops["category"] == "kernel").sum() == sum(e["cat"] == "kernel" for e in complete(alexnet_events))
    assert ops["start_ms"].min() == 0.0
    assert run.duration_ns >= ops["end_ms"].max() * 1e6
    assert run.recording.ops is not None and run.recording.ops.source == "import:alexnet_cuda.json.gz"
    assert run.recording.ops.devices[0]["name"] == "NVIDIA A100-PG509-200"
    assert len(run.environment["gpus"]) == len(alexnet.device_properties) == 8
    assert set(run.environment["gpus"]) == {"NVIDIA A100-PG509-200"}
    assert run.environment["distributed"] == {"rank": 0}
    assert run.origin_wall_s == pytest.approx(1_695_835_542.514261)
    assert run.metrics["cell_end_ms"] == run.duration_ns / 1e6 and run.created.startswith("2023-09-2")
    assert set(ops["category"]) <= set(CATEGORIES)
    assert run_from_kineto(alexnet, name="mine").name == "mine"


def read_whole(data: bytes, monkeypatch: pytest.MonkeyPatch) -> KinetoTrace:
    """The trace as the general reader makes it: the whole text parsed, one raw slice per event."""

    def refuse(pieces: object) -> Iterator[tuple[str, bytes]]:
        raise kineto_stream.NotSplittable
        yield  # a generator, as the real one

    with monkeypatch.context() as patch:
        patch.setattr(kineto_decode, "events_in_batches", refuse)
        return read_kineto_bytes(data, "trace.json")


def assert_same_traces(a: KinetoTrace, b: KinetoTrace) -> None:
    for name, value in vars(a).items():
        other = getattr(b, name)
        if isinstance(value, np.ndarray):
            assert value.dtype == other.dtype and np.array_equal(value, other), name
        else:
            assert value == other, name


@pytest.mark.parametrize("batch_bytes", [1, 3000, 1 << 20])
def test_batches_cut_from_the_stream_read_as_the_whole_text_does(
    batch_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = kineto_trace("alexnet_cuda.json.gz").read_bytes()
    whole = read_whole(data, monkeypatch)
    general = []
    monkeypatch.setattr(kineto_stream, "BATCH_BYTES", batch_bytes)
    monkeypatch.setattr(kineto_decode, "_decode_in_slices", lambda *a: general.append(a) or {})
    assert_same_traces(read_kineto_bytes(data, "trace.json"), whole)
    assert not general  # read in batches, never handed to the general reader


@pytest.mark.parametrize("batch_bytes", [1, 50, 4000])
def test_text_that_looks_like_a_cut_between_events_reads_as_the_whole_text_does(
    batch_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "}, {" inside names and in nested args, odd phases, events without one: wherever the cut falls, the
    # trace is what the general reader makes of the whole text.
    tricky = '}, {"ph": "X", "name": "fake", "ts": 9}, {'
    events: list[dict[str, Any]] = [
        {"ph": "M", "name": "thread_name", "pid": 1, "tid": 1, "args": {"name": tricky}}
    ]
    for i in range(60):
        events.append({"ph": "X", "cat": "cpu_op", "name": f"op {i} {tricky}", "pid": 1, "tid": 1, "ts": i})
        args = {"stream": 7, "correlation": i, "nested": [{"a": 1}, {"b": [{}, {}]}]}
        events.append(
            {"ph": "X", "cat": "kernel", "name": "k", "pid": 0, "tid": 7, "ts": i + 0.5, "args": args}
        )
        events.append([{"ph": "s", "id": i}, {"ph": "Z"}, {"name": "no phase"}, {"ph": "i", "s": "t"}][i % 4])
    text = json.dumps({"schemaVersion": 1, "traceEvents": events, "traceName": tricky}).encode()
    whole = read_whole(text, monkeypatch)
    assert len(whole) == 120 and whole.thread_names == {(1, 1): tricky}
    monkeypatch.setattr(kineto_stream, "BATCH_BYTES", batch_bytes)
    streamed = read_kineto_bytes(text, "trace.json")
    assert_same_traces(streamed, whole)
    assert streamed.metadata == {"schemaVersion": 1, "traceName": tricky}


def test_stopping_early_leaves_no_inflating_thread_behind(tmp_path: Path) -> None:
    # The gzip is inflated by a thread ahead of the decoder; a malformed event stops the reader long before
    # the end of the file, and the thread with it.
    bad = b'{"traceEvents": [{"ph": "X", "ts": "soon"}, ' + b'{"ph": "X", "ts": 1}, ' * 400_000 + b"{}]}"
    path = tmp_path / "bad.json.gz"
    path.write_bytes(gzip.compress(bad, 1))
    before = threading.active_count()
    with pytest.raises(KinetoFormatError, match="unexpected event"):
        read_kineto(path)
    assert threading.active_count() == before
