"""Kineto's other dialects read as the CUDA traces do: ROCm's string streams and devices ("0x0"), and the
older category names ("Kernel", "Runtime", ...) that Holistic Trace Analysis and TensorBoard also read.
Each is made from a real CUDA trace by rewriting it, so the expected answer is the original's."""

from __future__ import annotations

import copy
import gzip
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tests.kineto_data import kineto_trace
from workbench.importers.kineto import (
    KinetoClockMap,
    KinetoTrace,
    ops_from_kineto,
    read_kineto_bytes,
    run_from_kineto,
)
from workbench.model.ops import OpTable

GPU_CATEGORIES = ("kernel", "gpu_memcpy", "gpu_memset")
OLD_NAMES = {
    "kernel": "Kernel",
    "gpu_memcpy": "Memcpy",
    "gpu_memset": "Memset",
    "cuda_runtime": "Runtime",
    "cpu_op": "Operator",
    "python_function": "Python",
}
COLUMNS = ("start_ns", "end_ns", "category", "name_id", "lane_id", "correlation", "detail_id")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    with gzip.open(kineto_trace("alexnet_cuda.json.gz")) as file:
        loaded: dict[str, Any] = json.load(file)
    return loaded


def rewritten(document: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> KinetoTrace:
    again = copy.deepcopy(document)
    for event in again["traceEvents"]:
        change(event)
    return read_kineto_bytes(gzip.compress(json.dumps(again).encode()), "rewritten.json.gz")


def table_of(trace: KinetoTrace) -> OpTable:
    return ops_from_kineto(trace, KinetoClockMap.from_origin_ns(trace.start_ns))


def assert_same_tables(a: OpTable, b: OpTable) -> None:
    for column in COLUMNS:
        assert np.array_equal(getattr(a, column), getattr(b, column)), column
    assert (a.names, a.lanes, a.details) == (b.names, b.lanes, b.details)


def test_rocm_string_streams_and_devices_import_with_their_kernels(document: dict[str, Any]) -> None:
    original = table_of(rewritten(document, lambda event: None))

    def rocm(event: dict[str, Any]) -> None:
        args = event.get("args", {})
        if event.get("cat") in GPU_CATEGORIES:
            args["stream"] = hex(args["stream"])  # "0x7", as Kineto on ROCm writes it
            args["device"] = hex(args["device"])
            event["tid"] = f"stream {args['stream']}"

    table = table_of(rewritten(document, rocm))
    assert (table.frame()["category"] == "kernel").sum() == 79
    assert_same_tables(table, original)
    assert "GPU 0 · stream 7" in [lane.label for lane in table.lanes]


def test_stream_strings_in_decimal_hex_and_handles(document: dict[str, Any]) -> None:
    before = {(lane.device, lane.ident) for lane in table_of(rewritten(document, lambda e: None)).lanes}
    assert {key for key in before if key[0] == 0} == {(0, 7), (0, 20), (0, 0xFFFFFFFF)}  # alexnet's streams
    spellings = {7: "0x0", 20: "20", 0xFFFFFFFF: "stream 0x7f3a2c000000"}

    def respell(event: dict[str, Any]) -> None:
        args = event.get("args", {})
        if "stream" in args:
            args["stream"] = spellings[args["stream"]]
            args["device"] = "0x1"

    streams = {(lane.device, lane.ident): lane.label for lane in table_of(rewritten(document, respell)).lanes}
    assert streams[(1, 0)] == "GPU 1 · stream 0"
    assert streams[(1, 20)] == "GPU 1 · stream 20"
    assert streams[(1, 0x7F3A2C000000)] == "GPU 1 · stream 0x7f3a2c000000"  # a handle, shown as written
    assert not [key for key in streams if key[0] == 0]


def test_unreadable_stream_strings_fall_back_to_the_events_pid_and_tid(document: dict[str, Any]) -> None:
    def unreadable(event: dict[str, Any]) -> None:
        if event.get("cat") in GPU_CATEGORIES:
            event["args"]["stream"] = "default stream"

    trace = rewritten(document, unreadable)
    assert set(trace.stream[np.isin(trace.category, [5, 6, 7])].tolist()) == {-1}
    kernels = table_of(trace).frame().query("category == 'kernel'")
    assert len(kernels) == 79 and kernels["lane"].str.startswith("GPU 0 · stream ").all()


def test_older_category_names_import_like_the_current_ones(document: dict[str, Any]) -> None:
    original = table_of(rewritten(document, lambda event: None))

    def older(event: dict[str, Any]) -> None:
        if "cat" in event:
            event["cat"] = OLD_NAMES.get(event["cat"], event["cat"])

    table = table_of(rewritten(document, older))
    assert (table.frame()["category"] == "kernel").sum() == 79
    assert_same_tables(table, original)


def test_category_names_match_without_case(document: dict[str, Any]) -> None:
    original = table_of(rewritten(document, lambda event: None))

    def shouted(event: dict[str, Any]) -> None:
        if "cat" in event:
            event["cat"] = event["cat"].upper()

    table = table_of(rewritten(document, shouted))
    assert_same_tables(table, original)  # "TRACE", Kineto's own window span, is still left out


def test_a_rocm_trace_with_older_names_imports_as_a_run(document: dict[str, Any]) -> None:
    def rocm_and_old(event: dict[str, Any]) -> None:
        if "cat" in event:
            event["cat"] = OLD_NAMES.get(event["cat"], event["cat"])
        args = event.get("args", {})
        if "stream" in args:
            args["stream"] = hex(args["stream"])

    run = run_from_kineto(rewritten(document, rocm_and_old))
    ops = run.ops
    assert (ops["category"] == "kernel").sum() == 79
    assert set(ops.loc[ops["category"] == "kernel", "lane"]) == {"GPU 0 · stream 7", "GPU 0 · stream 20"}
