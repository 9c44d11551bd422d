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


# A ROCm trace as Kineto writes it on AMD GPUs, by hand: HIP runtime calls, devices and streams as strings,
# a GPU-side user annotation on the stream it covers, GPU rows whose tid names the stream.
ROCM = {
    "schemaVersion": 1,
    "deviceProperties": [{"id": 0, "name": "AMD Instinct MI300X"}],
    "traceEvents": [
        {"ph": "M", "name": "thread_name", "pid": 100, "tid": 100, "args": {"name": "python"}},
        {"ph": "X", "cat": "cpu_op", "name": "aten::mm", "pid": 100, "tid": 100, "ts": 10, "dur": 30,
         "args": {"Input Dims": [[64, 64], [64, 64]]}},
        {"ph": "X", "cat": "cuda_runtime", "name": "hipLaunchKernel", "pid": 100, "tid": 100, "ts": 12,
         "dur": 4, "args": {"correlation": 41}},
        {"ph": "X", "cat": "cuda_runtime", "name": "hipMemcpyAsync", "pid": 100, "tid": 100, "ts": 20,
         "dur": 3, "args": {"correlation": 42}},
        {"ph": "X", "cat": "user_annotation", "name": "step", "pid": 100, "tid": 100, "ts": 5, "dur": 60},
        {"ph": "X", "cat": "gpu_user_annotation", "name": "step", "pid": 0, "tid": "stream 0x0", "ts": 18,
         "dur": 40, "args": {"device": "0x0", "stream": "0x0"}},
        {"ph": "X", "cat": "kernel", "name": "Cijk_Ailk_Bljk_SB", "pid": 0, "tid": "stream 0x0", "ts": 18,
         "dur": 25, "args": {"device": "0x0", "stream": "0x0", "correlation": 41, "grid": [256, 1, 1],
                             "block": [256, 1, 1]}},
        {"ph": "X", "cat": "gpu_memcpy", "name": "CopyDeviceToHost", "pid": 0, "tid": "stream 7", "ts": 44,
         "dur": 6, "args": {"device": "0", "stream": "7", "correlation": 42, "bytes": 16384}},
        {"ph": "f", "id": 41, "pid": 0, "tid": "stream 0x0", "ts": 18, "cat": "ac2g", "name": "ac2g"},
    ],
}  # fmt: skip


def test_a_rocm_trace_puts_its_gpu_rows_on_the_streams_its_strings_name() -> None:
    trace = read_kineto_bytes(json.dumps(ROCM).encode(), "rocm.json")
    ops = table_of(trace).frame()
    assert sorted(ops["category"]) == sorted(
        [
            "cpu_op",
            "cuda_runtime",
            "cuda_runtime",
            "user_annotation",
            "gpu_user_annotation",
            "kernel",
            "gpu_memcpy",
        ]
    )
    host = ops[ops["category"].isin(["cpu_op", "cuda_runtime", "user_annotation"])]
    assert set(host["lane"]) == {"python"}
    gpu = ops[ops["category"].isin(["kernel", "gpu_user_annotation", "gpu_memcpy"])]
    assert dict(zip(gpu["category"], gpu["lane"], strict=True)) == {
        "gpu_user_annotation": "GPU 0 · stream 0",
        "kernel": "GPU 0 · stream 0",
        "gpu_memcpy": "GPU 0 · stream 7",
    }
    # Each HIP launch finds the GPU work it queued through the correlation id.
    by_correlation = ops[ops["correlation"] > 0].groupby("correlation")["name"].apply(sorted).to_dict()
    assert by_correlation == {
        41: ["Cijk_Ailk_Bljk_SB", "hipLaunchKernel"],
        42: ["CopyDeviceToHost", "hipMemcpyAsync"],
    }
    assert set(gpu["detail"]) == {"", "grid [256, 1, 1] · block [256, 1, 1]", "16384 bytes"}


@pytest.mark.parametrize(
    ("spelling", "category"),
    [
        ("Kernel", "kernel"), ("KERNEL", "kernel"), ("kErNeL", "kernel"),
        ("Memcpy", "gpu_memcpy"), ("MemCpy", "gpu_memcpy"), ("GPU_MEMCPY", "gpu_memcpy"),
        ("Memset", "gpu_memset"), ("MEMSET", "gpu_memset"), ("Gpu_Memset", "gpu_memset"),
        ("Runtime", "cuda_runtime"), ("RUNTIME", "cuda_runtime"), ("Cuda_Runtime", "cuda_runtime"),
        ("Operator", "cpu_op"), ("OPERATOR", "cpu_op"), ("CPU_OP", "cpu_op"), ("Cpu_Op", "cpu_op"),
        ("Driver", "cuda_driver"), ("Python", "python_function"), ("Python_Function", "python_function"),
        ("User_Annotation", "user_annotation"), ("GPU_User_Annotation", "gpu_user_annotation"),
        ("gpu_USER_annotation", "gpu_user_annotation"), ("Cuda_Sync", "cuda_sync"),
        ("hip_runtime?", "other"), ("", "other"),
    ],
)  # fmt: skip
def test_older_and_mixed_case_category_names(spelling: str, category: str) -> None:
    events = [
        {"ph": "X", "cat": spelling, "name": "e", "pid": 0, "tid": 7, "ts": 1, "dur": 2,
         "args": {"device": 0, "stream": 7}},
        {"ph": "X", "cat": spelling.swapcase(), "name": "f", "pid": 1, "tid": 1, "ts": 2, "dur": 1},
    ]  # fmt: skip
    trace = read_kineto_bytes(json.dumps({"traceEvents": events}).encode(), "old.json")
    assert table_of(trace).frame()["category"].tolist() == [category, category]
