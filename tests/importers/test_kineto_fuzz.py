"""The Kineto importer at its boundary: every corrupted file reads, or raises one `KinetoFormatError` naming
the file; never another exception type, never a hang (a hang shows as a pytest-timeout failure, not as a
timing tolerance). What reads also converts: `run_from_kineto` raises nothing on it."""

from __future__ import annotations

import copy
import gzip
import json
import warnings
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.importers import kineto_decode, kineto_stream
from workbench.importers.kineto import KinetoFormatError, read_kineto, read_kineto_bytes, run_from_kineto
from workbench.model.ops import CATEGORIES, CATEGORY_CODE

SOURCE = "fuzzed.json"
CAP = 1 << 20  # the generated files are KBs; a cap keeps any that inflate far from being a memory test
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# A small trace with every part the importer reads: metadata, thread names, host ops with shapes, a
# launch and its kernel with launch details, a copy, a user annotation and Kineto's own window span.
BASE: dict[str, Any] = {
    "schemaVersion": 1,
    "deviceProperties": [{"id": 0, "name": "NVIDIA A100", "totalGlobalMem": 85_000_000_000}],
    "distributedInfo": {"rank": 0},
    "baseTimeNanoseconds": 1_700_000_000_000_000_000,
    "traceEvents": [
        {"ph": "M", "name": "process_name", "pid": 1, "tid": 0, "args": {"name": "python"}},
        {"ph": "M", "name": "thread_name", "pid": 1, "tid": 2, "args": {"name": "main"}},
        {"ph": "X", "cat": "user_annotation", "name": "step", "pid": 1, "tid": 2, "ts": 0.5, "dur": 90},
        {
            "ph": "X", "cat": "cpu_op", "name": "aten::mm", "pid": 1, "tid": 2, "ts": 1, "dur": 20,
            "args": {"Input Dims": [[4, 4], [4, 4]], "correlation": 0},
        },
        {
            "ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 1, "tid": 2, "ts": 5,
            "dur": 3, "args": {"correlation": 11},
        },
        {
            "ph": "X", "cat": "kernel", "name": "gemm", "pid": 0, "tid": 7, "ts": 10, "dur": 30,
            "args": {
                "device": 0, "stream": 7, "correlation": 11, "grid": [1, 2, 1], "block": [128, 1, 1],
                "registers per thread": 32, "shared memory": 0,
            },
        },
        {
            "ph": "X", "cat": "gpu_memcpy", "name": "Memcpy DtoH", "pid": 0, "tid": 7, "ts": 50, "dur": 4,
            "args": {"device": 0, "stream": 7, "correlation": 12, "bytes": 64,
                     "memory bandwidth (GB/s)": 1.5},
        },
        {"ph": "X", "cat": "Trace", "name": "PyTorch Profiler", "pid": 1, "tid": 2, "ts": 0, "dur": 100},
        {"ph": "s", "id": 11, "pid": 1, "tid": 2, "ts": 5, "cat": "ac2g", "name": "ac2g"},
    ],
}  # fmt: skip
BASE_TEXT = json.dumps(BASE).encode()

# Values that have broken parsers: wrong types, ROCm's strings, numbers past int64 and float64, nesting.
NASTY: list[Any] = [
    None, True, False, "", "soon", "0x0", "0xffffffffffffffffff", "stream 7", "-1", " ", "NaN",
    0, -1, 1.5, -1e300, 1e300, 1e-300, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**40,
    [], {}, [1, 2, 3], [[[[]]]], {"a": {"b": [None]}}, "é" * 50, [[4, 4], "x", None],
]  # fmt: skip
FIELDS = ["ph", "cat", "name", "pid", "tid", "ts", "dur", "args", "id"]
ARGS = ["device", "stream", "correlation", "grid", "block", "registers per thread", "shared memory",
        "bytes", "memory bandwidth (GB/s)", "Input Dims", "name"]  # fmt: skip
TOP = ["traceEvents", "baseTimeNanoseconds", "deviceProperties", "distributedInfo", "schemaVersion"]


def reads_or_fails_cleanly(data: bytes) -> None:
    with warnings.catch_warnings():
        # numpy only warns when a time wraps around int64 ("invalid value encountered in cast"): a failure.
        warnings.simplefilter("error", RuntimeWarning)
        try:
            trace = read_kineto_bytes(data, SOURCE, max_bytes=CAP)
        except KinetoFormatError as error:
            assert str(error).startswith(f"{SOURCE}: ")
            return
        run = run_from_kineto(trace)
    ops = run.recording.ops
    assert ops is not None and len(ops) == len(trace)
    assert np.all(ops.end_ns >= ops.start_ns) and run.duration_ns >= 0


def deep(depth: int, opening: str = "[", closing: str = "]") -> str:
    return opening * depth + closing * depth


@st.composite
def structurally_broken(draw: st.DrawFn) -> bytes:
    """The base trace with a few fields, args or top-level keys replaced by nasty values, or dropped."""
    document = copy.deepcopy(BASE)
    events: list[Any] = document["traceEvents"]
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.sampled_from(["event", "args", "top", "whole event"]))
        value = copy.deepcopy(draw(st.sampled_from(NASTY)))  # a list or dict placed twice is two
        row = draw(st.integers(0, len(events) - 1))
        event = events[row]
        if where == "whole event":
            events[row] = value
        elif where == "top":
            key = draw(st.sampled_from(TOP))
            if draw(st.booleans()):
                document[key] = value
            else:
                document.pop(key, None)
        elif not isinstance(event, dict):
            continue
        elif where == "event":
            event[draw(st.sampled_from(FIELDS))] = value
        elif isinstance(event.get("args"), dict):
            event["args"][draw(st.sampled_from(ARGS))] = value
        if not isinstance(document.get("traceEvents"), list):
            break
    data = json.dumps(document).encode()  # Python writes 1e300 as is; json.dumps has no overflow
    return gzip.compress(data) if draw(st.booleans()) else data


@st.composite
def byte_damaged(draw: st.DrawFn) -> bytes:
    """The base trace's bytes, plain or gzipped, cut short or with bytes overwritten, inserted or removed."""
    data = bytearray(gzip.compress(BASE_TEXT) if draw(st.booleans()) else BASE_TEXT)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "overwrite", "insert", "delete"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "truncate":
            del data[at:]
        elif kind == "overwrite" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif data:
            del data[at : at + draw(st.integers(1, 8))]
    return bytes(data)


@st.composite
def odd_documents(draw: st.DrawFn) -> bytes:
    """Texts built from scratch: deep nesting, NaN, literals in odd places, events that are not objects."""
    depth = draw(st.sampled_from([1, 10, 500, 5_000, 50_000]))
    text = draw(
        st.sampled_from(
            [
                '{"traceEvents": ' + deep(depth) + "}",
                '{"traceEvents": [' + deep(depth, "{", "}").replace("}{", "}") + "]}",
                '{"traceEvents": [], "meta": ' + deep(depth) + "}",
                '{"traceEvents": [{"ph": "X", "args": {"Input Dims": ' + deep(depth) + "}}]}",
                '{"traceEvents": [{"ph": "X", "ts": NaN, "dur": Infinity}]}',
                '{"traceEvents": [{"ph": "X", "ts": 1e400}]}',
                '{"traceEvents": [{"ph": "X", "ts": 1e300, "dur": -1e300}]}',
                '{"traceEvents": [{"ph": "X", "ts": 1}], "baseTimeNanoseconds": 1e30}',
                '{"traceEvents": [{"ph": "X", "ts": 1}], "baseTimeNanoseconds": ' + "9" * 40 + "}",
                '{"traceEvents": [{"ph": "X", "ts": -4e15}, {"ph": "X", "ts": 4e15}]}',
                '{"traceEvents": [1, "two", null, [], true]}',
                '{"traceEvents": {"ph": "X"}}',
                '{"traceEvents": null}',
                '{"traceEvents": [{"ph": "X", "pid": "' + "7" * 30 + '", "tid": ' + "7" * 30 + "}]}",
                '{"traceEvents": [{"ph": "X", "args": {"stream": "0x' + "f" * 30 + '", "device": "x"}}]}',
                '{"traceEvents": [{"ph": "X", "cat": "KERNEL", "args": {"stream": "0x0"}}]}',
                '{"traceEvents": []}' + " x",
                "\ufeff" + '{"traceEvents": []}',
                '{"traceEvents": [{"ph": "X", "name": "\\ud800"}]}',
                " " * 100 + "[" + deep(depth) + "]",
            ]
        )
    )
    data = text.encode("utf-8", "surrogatepass")
    return gzip.compress(data) if draw(st.booleans()) else data


@pytest.mark.timeout(120)
@pytest.mark.parametrize("field", [*FIELDS, *(f"args.{key}" for key in ARGS), "whole event"])
def test_every_nasty_value_in_every_field_of_every_event_reads_or_fails_cleanly(field: str) -> None:
    # The generated corpus behind the random one: each value in each place, one at a time, so a single
    # bad field is never hidden by another that fails first.
    for row in range(len(BASE["traceEvents"])):
        for value in NASTY:
            document = copy.deepcopy(BASE)
            events = document["traceEvents"]
            if field == "whole event":
                events[row] = copy.deepcopy(value)
            elif field.startswith("args."):
                events[row].setdefault("args", {})[field.removeprefix("args.")] = copy.deepcopy(value)
            else:
                events[row][field] = copy.deepcopy(value)
            reads_or_fails_cleanly(json.dumps(document).encode())


@pytest.mark.parametrize("key", TOP)
def test_every_nasty_value_at_the_top_reads_or_fails_cleanly(key: str) -> None:
    for value in [*NASTY, ...]:  # ...: the key left out
        document = copy.deepcopy(BASE)
        if value is ...:
            del document[key]
        else:
            document[key] = copy.deepcopy(value)
        reads_or_fails_cleanly(json.dumps(document).encode())


@pytest.mark.timeout(300)
@SETTINGS
@given(structurally_broken())
def test_wrong_types_and_values_in_any_field_read_or_fail_cleanly(data: bytes) -> None:
    reads_or_fails_cleanly(data)


@pytest.mark.timeout(300)
@SETTINGS
@given(byte_damaged())
def test_damaged_bytes_read_or_fail_cleanly(data: bytes) -> None:
    reads_or_fails_cleanly(data)


@pytest.mark.timeout(300)
@SETTINGS
@given(odd_documents())
def test_odd_documents_read_or_fail_cleanly(data: bytes) -> None:
    reads_or_fails_cleanly(data)


@pytest.mark.timeout(120)
@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_read_or_fail_cleanly(data: bytes) -> None:
    reads_or_fails_cleanly(data)
    reads_or_fails_cleanly(gzip.compress(data))


def test_the_base_trace_reads_with_everything_in_it() -> None:
    # The fuzzers start from a trace that exercises every path, so each corruption has something to break.
    trace = read_kineto_bytes(BASE_TEXT, SOURCE)
    frame = run_from_kineto(trace).ops
    assert sorted(frame["category"]) == sorted(
        ["user_annotation", "cpu_op", "cuda_runtime", "kernel", "gpu_memcpy"]
    )
    assert set(frame["detail"]) >= {"shapes [[4, 4], [4, 4]]", "64 bytes · 1.5 GB/s"}
    assert trace.thread_names == {(1, 2): "main"} and trace.base_time_ns == BASE["baseTimeNanoseconds"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"traceEvents": ' + deep(50_000) + "}", "not valid JSON"),
        ('{"traceEvents": [{"ph": "X", "ts": 1e300}]}', "out of range"),
        ('{"traceEvents": [{"ph": "X", "ts": 1}], "baseTimeNanoseconds": ' + "9" * 40 + "}", "out of range"),
        ('{"traceEvents": [{"ph": "X", "ts": -4e15}, {"ph": "X", "ts": 4e15}]}', "146 years"),
        ('{"traceEvents": [1]}', "unexpected event"),
    ],
)
def test_what_used_to_escape_as_another_exception(text: str, problem: str, tmp_path: Path) -> None:
    # RecursionError, OverflowError ("cannot convert float infinity", "int too large") and int64 wraparound
    # all came out of these before; now each names the file and the problem.
    path = tmp_path / "corrupt.json"
    path.write_text(text)
    with pytest.raises(KinetoFormatError, match=problem) as caught:
        read_kineto(path)
    assert str(path) in str(caught.value)


def test_numbers_past_int64_in_ids_are_kept_apart_not_wrapped() -> None:
    text = (
        '{"traceEvents": [{"ph": "X", "cat": "cpu_op", "pid": 1, "tid": 18446744073709551615, "ts": 1}, '
        '{"ph": "X", "cat": "kernel", "pid": 0, "tid": 0, "ts": 2, "args": {"stream": 18446744073709551615}}'
        "]}"
    )
    trace = read_kineto_bytes(text.encode(), SOURCE)
    assert trace.tid[0] < -1  # an id of its own, as for a thread named by a string
    assert trace.stream[1] == -1  # no stream the GPU could have: absent


# The dialects' fields: streams and devices as other writers spell them (ROCm's "0x0", "7", "stream 0x1a",
# handles past 2^32), category names in any case (the older "Kernel", "Memcpy", "Runtime", "Operator").
CATEGORY_SPELLINGS = {
    **{name: name for name in CATEGORY_CODE if name != "other"},
    "memcpy": "gpu_memcpy", "memset": "gpu_memset", "runtime": "cuda_runtime", "driver": "cuda_driver",
    "operator": "cpu_op", "python": "python_function",
}  # fmt: skip
INT64 = range(-(1 << 63), 1 << 63)


@st.composite
def spelled_number(draw: st.DrawFn) -> tuple[Any, int]:
    """A stream or device id as some writer spells it, and what it reads as (-1: no id)."""
    kind = draw(st.sampled_from(["int", "decimal", "hex", "stream hex", "words"]))
    if kind == "words":
        return draw(st.text(alphabet="ghijklmnopqrstuvwyz _-", max_size=12)), -1
    if kind == "int":  # JSON numbers as msgspec reads them: int64 and uint64
        number = draw(st.integers(-(1 << 63), (1 << 64) - 1))
        return number, number if number in INT64 else -1
    number = draw(st.one_of(st.integers(-(1 << 70), 1 << 70), st.integers(0, 1 << 48)))
    expected = number if number in INT64 else -1
    spelled = {"decimal": str(number), "hex": hex(number), "stream hex": f"stream {number:#x}"}[kind]
    return spelled, expected


@st.composite
def spelled_category(draw: st.DrawFn) -> tuple[str, str]:
    """A category name in any mix of cases, or a name no writer uses ("other")."""
    if draw(st.integers(0, 5)) == 0:
        return draw(st.text(alphabet="abxyz_ ", max_size=10)), "other"
    name, category = draw(st.sampled_from(sorted(CATEGORY_SPELLINGS.items())))
    flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    return "".join(c.upper() if up else c for c, up in zip(name, flips, strict=True)), category


def read_whole(data: bytes) -> Any:
    """The trace as the general reader makes it (the whole text parsed), for comparison."""

    def refuse(pieces: object) -> Any:
        raise kineto_stream.NotSplittable
        yield  # a generator, as the real one

    with mock.patch.object(kineto_decode, "events_in_batches", refuse):
        return read_kineto_bytes(data, SOURCE, max_bytes=CAP)


@pytest.mark.timeout(300)
@SETTINGS
@given(
    st.lists(
        st.tuples(spelled_category(), spelled_number(), spelled_number(), spelled_number()), max_size=30
    ),
    st.integers(1, 3000),
)
def test_streams_devices_and_categories_in_any_spelling_read_as_what_they_spell(
    rows: list[tuple[tuple[str, str], tuple[Any, int], tuple[Any, int], tuple[Any, int]]], batch_bytes: int
) -> None:
    events = [
        {"ph": "X", "cat": cat, "name": f"e{i}", "pid": 0, "tid": tid, "ts": i, "dur": 1,
         "args": {"device": device, "stream": stream, "correlation": i}}
        for i, ((cat, _), (device, _), (stream, _), (tid, _)) in enumerate(rows)
    ]  # fmt: skip
    data = json.dumps({"traceEvents": events}).encode()
    with mock.patch.object(kineto_stream, "BATCH_BYTES", batch_bytes):
        trace = read_kineto_bytes(data, SOURCE, max_bytes=CAP)
    assert [CATEGORIES[c] for c in trace.category] == [category for (_, category), *_ in rows]
    assert trace.device.tolist() == [device for _, (_, device), _, _ in rows]
    assert trace.stream.tolist() == [stream for _, _, (_, stream), _ in rows]
    whole = read_whole(data)
    for column in ("category", "device", "stream", "tid", "name_id", "correlation", "ts_rel_us"):
        assert np.array_equal(getattr(trace, column), getattr(whole, column)), column
    ops = run_from_kineto(trace).recording.ops
    assert ops is not None and len(ops) == len(rows)


TRICKY = ['}, {"ph": "X"', "}, {", "}]}", '", "', "\\", "{", "]", "stream 0x0", "0x0", "7"]
BAD_FIELD_VALUES = st.one_of(
    st.none(), st.booleans(), st.floats(allow_nan=False), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.sampled_from(["a", "stream"]), st.integers(), max_size=2),
    st.sampled_from(TRICKY), st.text(max_size=8),
)  # fmt: skip


@pytest.mark.timeout(300)
@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["cat", "tid", "pid", "name", "args.device", "args.stream"]), BAD_FIELD_VALUES
        ),
        min_size=1,
        max_size=4,
    ),
    st.integers(1, 600),
)
def test_wrong_values_in_the_dialects_fields_read_or_fail_cleanly_wherever_batches_are_cut(
    changes: list[tuple[str, Any]], batch_bytes: int
) -> None:
    # ROCm-like events with a few fields replaced, cut into batches anywhere: the same trace or the same
    # error as the general reader gives on the whole text; never another exception.
    document = copy.deepcopy(BASE)
    events = document["traceEvents"]
    for index, (field, value) in enumerate(changes):
        event = events[(2 + index) % len(events)]
        if field.startswith("args."):
            event.setdefault("args", {})[field.removeprefix("args.")] = value
        else:
            event[field] = value
    data = json.dumps(document).encode()
    with mock.patch.object(kineto_stream, "BATCH_BYTES", batch_bytes):
        reads_or_fails_cleanly(data)
        try:
            trace = read_kineto_bytes(data, SOURCE, max_bytes=CAP)
        except KinetoFormatError as error:
            with pytest.raises(KinetoFormatError) as whole_error:
                read_whole(data)
            assert str(whole_error.value) == str(error)
            return
    whole = read_whole(data)
    for column in ("category", "device", "stream", "pid", "tid", "name_id", "ts_rel_us", "detail_id"):
        assert np.array_equal(getattr(trace, column), getattr(whole, column)), column
    assert (trace.names, trace.details, trace.thread_names) == (
        whole.names,
        whole.details,
        whole.thread_names,
    )
