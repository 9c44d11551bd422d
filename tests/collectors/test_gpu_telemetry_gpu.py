"""GPU telemetry against a real NVIDIA driver: run on a GPU machine (`pytest -m gpu`)."""

from __future__ import annotations

import threading
import time

import pytest

from workbench.clock import RunClock
from workbench.collectors.base import CollectorContext
from workbench.collectors.gpu_telemetry import THREAD_NAME, GpuTelemetryCollector
from workbench.collectors.nvml_api import NvmlError, PynvmlApi
from workbench.model.recording import Recording
from workbench.model.series import nvml_series, torch_series

pytestmark = pytest.mark.gpu


def nvml_device_count() -> int:
    api = PynvmlApi()
    try:
        api.init()
    except NvmlError:
        return 0
    try:
        return api.device_count()
    finally:
        api.shutdown()


@pytest.fixture(scope="module", autouse=True)
def needs_nvml_device() -> None:
    if nvml_device_count() == 0:
        pytest.skip("no NVML device found (needs an NVIDIA GPU and driver)")


def test_real_nvml_samples_plausible_values_and_our_process() -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA here")
    import os

    context = CollectorContext(
        clock=RunClock.start(), recording=Recording(), pid=os.getpid(), main_thread_id=threading.get_ident()
    )
    collector = GpuTelemetryCollector(rate_hz=20.0)
    assert collector.is_available() == (True, "")
    collector.start(context)
    try:
        time.sleep(0.3)
        x = torch.randn(2048, 2048, device="cuda")
        until = time.perf_counter() + 0.8
        while time.perf_counter() < until:
            x = (x @ x).clamp_(-1, 1)
        torch.cuda.synchronize()
    finally:
        nvml, memory = collector.stop()
    assert not [t for t in threading.enumerate() if t.name == THREAD_NAME]
    assert nvml.started, nvml.reason
    assert memory.started, memory.reason

    def series(name: str) -> list[float]:
        return [c.value for c in context.recording.counters if c.series == name]

    util = series(nvml_series(0, "util_pct"))
    assert util and all(0 <= v <= 100 for v in util)
    assert series(nvml_series(0, "mem_used_bytes")) and min(series(nvml_series(0, "mem_used_bytes"))) > 0
    assert series(nvml_series(0, "power_w")) and min(series(nvml_series(0, "power_w"))) > 0
    summary = context.notes["gpu_telemetry"]
    assert isinstance(summary, dict)
    assert summary["rate_hz_achieved"] > 10, summary
    assert max(series(torch_series(0, "allocated_bytes"))) >= 2048 * 2048 * 4
    # NVML's device numbering can differ from torch's: our process may show on any NVML device.
    proc_mem = [c.value for c in context.recording.counters if c.series.endswith(".proc_mem_bytes")]
    assert proc_mem and max(proc_mem) > 0, (
        f"NVML listed no process with pid {os.getpid()} (a container's PID namespace?): {summary}"
    )
    devices = context.notes["gpu_devices"]
    assert isinstance(devices, list) and devices[0]["memory_total_bytes"] > 0
