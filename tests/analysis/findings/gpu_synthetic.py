"""Synthetic GPU traces with planted patterns for the GPU finding rules, and their "after the fix" twins.

Every time is in µs here and chosen by the builder, so a test can compute what the fixed trace would take.
"""

from __future__ import annotations

from tests.render.ops_synthetic import OpsBuilder, ops_run
from workbench.model import Run
from workbench.model.events import Counter, Span, TokenEvent
from workbench.model.ops import OpTable
from workbench.model.series import MEM_USED_BYTES, UTIL_PCT, nvml_series

US = 1_000
MS = 1_000_000
GIB = 1 << 30
REQUEST = 1


def launches(n: int, kernel_us: int, launch_us: int, back_to_back: bool = False) -> OpTable:
    """`n` kernels, each launched by a `launch_us` cudaLaunchKernel one after another on the host.

    The GPU starts a kernel when its launch returns, or when the previous kernel ends if that is later.
    `back_to_back` is the trace after the fix (a CUDA graph): the same kernels with no gap between them."""
    ops = OpsBuilder()
    host, stream = ops.thread(), ops.stream()
    gpu_free = 0
    for i in range(n):
        launched = (i + 1) * launch_us * US
        ops.op(
            host, "cudaLaunchKernel", launched - launch_us * US, launched, "cuda_runtime", correlation=i + 1
        )
        start = gpu_free if back_to_back and i else max(launched, gpu_free)
        ops.op(stream, "void tiny_kernel<float>", start, start + kernel_us * US, "kernel", correlation=i + 1)
        gpu_free = start + kernel_us * US
    return ops.table()


def decode_loop(
    tokens: int, host_us: int, gpu_us: int, sync: bool, host_ahead: bool = True, batch_size: int = 1
) -> Run:
    """A decode loop as one `llm` request: per token, `host_us` of host ops end in a launch of a `gpu_us`
    kernel; with `sync` the step then reads a scalar (`aten::item`: a DtoH copy and a cudaStreamSynchronize
    that waits for the kernel). Without it the host runs on to the next step (`host_ahead`), the GPU
    starting each kernel when the previous one is done. A token arrives when its kernel ends."""
    ops = OpsBuilder()
    host, stream = ops.thread(), ops.stream()
    t = gpu_free = 0
    arrivals = []
    for i in range(tokens):
        launch = t + host_us * US
        ops.op(host, "aten::linear", t, launch)
        ops.op(host, "cudaLaunchKernel", launch - 10 * US, launch, "cuda_runtime", correlation=2 * i + 1)
        start = max(launch, gpu_free)
        gpu_free = start + gpu_us * US
        ops.op(stream, "void decode_kernel<float>", start, gpu_free, "kernel", correlation=2 * i + 1)
        arrivals.append(gpu_free)
        if sync:
            ops.op(host, "aten::item", launch, gpu_free + 5 * US)
            ops.op(host, "aten::_local_scalar_dense", launch + 1 * US, gpu_free + 4 * US)
            ops.op(host, "cudaMemcpyAsync", launch + 2 * US, launch + 4 * US, "cuda_runtime", 2 * i + 2)
            ops.op(
                stream,
                "Memcpy DtoH (Device -> Pageable)",
                gpu_free,
                gpu_free + 2 * US,
                "gpu_memcpy",
                2 * i + 2,
            )
            ops.op(host, "cudaStreamSynchronize", launch + 4 * US, gpu_free + 3 * US, "cuda_runtime")
            gpu_free += 2 * US
            t = gpu_free + 3 * US
        else:
            t = launch if host_ahead else gpu_free
    end = max(t, gpu_free)
    run = ops_run(ops.table(), duration_ns=end)
    attrs = {"source": "transformers.generate", "batch_size": batch_size}
    run.recording.add_span(Span(REQUEST, "generate tiny", "llm", 0, end, attrs=attrs))
    for arrival in arrivals:
        run.recording.add_token(TokenEvent(REQUEST, arrival, batch_size))
    return run


def telemetry_run(
    util_pct: float,
    used_gib: float,
    total_gib: float = 80.0,
    batch_size: int = 1,
    requests: int = 1,
    request_ms: float = 100.0,
) -> Run:
    """Sequential `llm` requests with NVML utilisation and memory sampled every 10 ms, no op trace."""
    end = int(requests * request_ms * MS)
    run = ops_run(None, duration_ns=end)
    rec = run.recording
    for r in range(requests):
        start = int(r * request_ms * MS)
        rec.add_span(
            Span(
                r + 1,
                f"generate tiny #{r}",
                "llm",
                start,
                start + int(request_ms * MS),
                attrs={"batch_size": batch_size},
            )
        )
    for t in range(0, end, 10 * MS):
        rec.add_counter(Counter(nvml_series(0, UTIL_PCT), t, util_pct))
        rec.add_counter(Counter(nvml_series(0, MEM_USED_BYTES), t, used_gib * GIB * (0.9 if t == 0 else 1.0)))
    run.metrics["gpu"] = {"device_info": [{"index": 0, "memory_total_bytes": int(total_gib * GIB)}]}
    return run
