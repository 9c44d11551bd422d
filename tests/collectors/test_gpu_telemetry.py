"""The GPU telemetry collector against a scripted NVML (two devices) and a clock the test moves."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import types
from collections.abc import Iterator

import pytest

from tests.gpu_fakes import MIB, PID, FakeClock, FakeNvml, FakeProbe
from workbench.clock import RunClock
from workbench.collectors.base import CollectorContext
from workbench.collectors.gpu_memory import CudaMemory, TorchMemoryProbe
from workbench.collectors.gpu_telemetry import (
    DISABLED,
    THREAD_NAME,
    GpuSampler,
    GpuTelemetryCollector,
    NvmlDevice,
    run_schedule,
)
from workbench.collectors.nvml_api import (
    NvmlError,
    NvmlUnavailable,
    PynvmlApi,
)
from workbench.model.recording import Recording
from workbench.model.series import nvml_series, torch_series

NO_DRIVER = "no NVIDIA driver: libnvidia-ml.so not found (GPU telemetry needs the NVIDIA driver)"


def make_context(clock: RunClock | None = None) -> CollectorContext:
    return CollectorContext(
        clock=clock or RunClock.start(),
        recording=Recording(),
        pid=PID,
        main_thread_id=threading.get_ident(),
    )


def values(context: CollectorContext, series: str) -> list[float]:
    return [c.value for c in context.recording.counters if c.series == series]


def sampler_for(api: FakeNvml, context: CollectorContext, probe: FakeProbe | None = None) -> GpuSampler:
    devices = [NvmlDevice(api, i, PID, context.clock.now_ns) for i in range(2)]
    return GpuSampler(context, devices, probe or FakeProbe())


def telemetry_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


@pytest.fixture(autouse=True)
def no_leftover_sampler() -> Iterator[None]:
    yield
    assert not telemetry_threads(), "a GPU telemetry thread outlived its test"


def test_counters_have_series_names_and_units() -> None:
    clock = FakeClock()
    context = make_context(clock)
    api = FakeNvml(clock=clock)
    sampler = sampler_for(api, context, FakeProbe([CudaMemory(0, 300 * MIB, 400 * MIB)]))
    sampler.tick()
    clock.advance(0.1)
    sampler.tick()

    assert values(context, nvml_series(0, "util_pct")) == [50, 50]
    assert values(context, nvml_series(1, "mem_util_pct")) == [21, 21]
    assert values(context, nvml_series(0, "mem_used_bytes")) == [1000 * MIB] * 2
    assert values(context, nvml_series(0, "sm_clock_mhz")) == [1755, 1755]
    assert values(context, nvml_series(1, "temp_c")) == [42, 42]
    # KB/s -> bytes/s, read at most PCIE_MAX_HZ: only the first of two ticks 0.1 s apart
    assert values(context, nvml_series(0, "pcie_tx_bytes_s")) == [1000 * 1024]
    assert values(context, nvml_series(0, "pcie_rx_bytes_s")) == [2000 * 1024]
    # device 1 has no energy counter: mW -> W from nvmlDeviceGetPowerUsage
    assert values(context, nvml_series(1, "power_w")) == [75.5, 75.5]
    # this process's memory, not the other process's; device 1 does not say (None): no point
    assert values(context, nvml_series(0, "proc_mem_bytes")) == [512 * MIB] * 2
    assert values(context, nvml_series(1, "proc_mem_bytes")) == []
    assert values(context, torch_series(0, "allocated_bytes")) == [300 * MIB] * 2
    assert values(context, torch_series(0, "reserved_bytes")) == [400 * MIB] * 2
    assert all(c.t_ns in (0, 100_000_000) for c in context.recording.counters)


def test_power_comes_from_energy_over_the_measured_interval() -> None:
    clock = FakeClock()
    context = make_context(clock)
    sampler = sampler_for(FakeNvml(clock=clock, watts=100.0), context)
    sampler.tick()
    assert values(context, nvml_series(0, "power_w")) == []  # one reading is no interval yet
    clock.advance(0.13)  # late against a 0.1 s period: the nominal period would say 130 W
    sampler.tick()
    clock.advance(0.05)
    sampler.tick()
    assert values(context, nvml_series(0, "power_w")) == pytest.approx([100.0, 100.0], rel=1e-3)
    times = [c.t_ns for c in context.recording.counters if c.series == nvml_series(0, "power_w")]
    assert times == [130_000_000, 180_000_000]


def test_an_energy_counter_not_yet_refreshed_keeps_its_base() -> None:
    clock = FakeClock()
    context = make_context(clock)
    api = FakeNvml(clock=clock, watts=0.0)  # the counter does not move between the first two reads
    sampler = sampler_for(api, context)
    sampler.tick()
    clock.advance(0.1)
    sampler.tick()
    api.watts = 200.0  # then it moves by 0.1 s x 200 W, but over the 0.2 s since the kept base
    clock.advance(0.1)
    sampler.tick()
    assert values(context, nvml_series(0, "power_w")) == pytest.approx([100.0], rel=1e-3)


def test_unsupported_metric_is_dropped_after_one_failure() -> None:
    clock = FakeClock()
    context = make_context(clock)
    api = FakeNvml(clock=clock)
    sampler = sampler_for(api, context)
    for _ in range(4):
        sampler.tick()
        clock.advance(1.0)  # past the PCIe throttle: every tick may read PCIe
    assert api.calls["pcie-tx:1"] == api.calls["pcie-rx:1"] == 1
    assert api.calls["energy:1"] == 1
    assert api.calls["pcie-tx:0"] == 4
    assert sampler.devices[1].unsupported == ["energy", "pcie_tx_bytes_s", "pcie_rx_bytes_s"]
    assert sampler.devices[0].unsupported == []


def test_process_utilisation_keeps_the_last_seen_timestamp_and_picks_our_pid() -> None:
    clock = FakeClock()
    context = make_context(clock)
    api = FakeNvml(clock=clock)
    sampler = sampler_for(api, context)
    for _ in range(3):
        sampler.tick()
        clock.advance(0.1)
    assert api.since == [0, 100, 250]
    # the first read is history from before the run; then the mean of our samples (40, 60)
    assert values(context, nvml_series(0, "proc_util_pct")) == [50.0, 50.0]


def test_achieved_rate_comes_from_measured_ticks() -> None:
    clock = FakeClock()
    sampler = sampler_for(FakeNvml(clock=clock), make_context(clock))
    for step in (0.1, 0.15, 0.05, 0.0):
        sampler.tick()
        clock.advance(step)
    assert sampler.stats.ticks == 4
    assert sampler.stats.achieved_hz() == pytest.approx(3 / 0.3)


class SteppingEvent(threading.Event):
    """`wait` moves the fake clock instead of sleeping, and says "stop" after `limit` waits."""

    def __init__(self, clock: FakeClock, limit: int) -> None:
        super().__init__()
        self.clock = clock
        self.limit = limit
        self.timeouts: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None and timeout >= 0
        self.timeouts.append(timeout)
        self.clock.advance(timeout)
        return len(self.timeouts) >= self.limit


def test_schedule_keeps_absolute_deadlines_and_skips_when_behind() -> None:
    clock = FakeClock()
    starts: list[int] = []
    durations = iter([0.01, 0.25, 0.01, 0.03, 0.01])  # the second tick overruns 2.5 periods

    def tick() -> None:
        starts.append(clock.now_ns())
        clock.advance(next(durations))

    late = run_schedule(tick, clock.now_ns, 100_000_000, SteppingEvent(clock, limit=5))
    # deadlines stay on the 0.1 s grid; 0.1 and 0.2 are missed and skipped, not run in a burst
    assert starts == [0, 100_000_000, 400_000_000, 500_000_000, 600_000_000]
    assert late == 2


def test_thread_samples_writes_notes_and_stops_cleanly() -> None:
    context = make_context()
    api = FakeNvml()
    collector = GpuTelemetryCollector(rate_hz=100.0, api=api, memory_probe=FakeProbe())
    assert collector.is_available() == (True, "")
    collector.start(context)
    assert len(telemetry_threads()) == 1
    time.sleep(0.3)
    nvml, memory = collector.stop()
    assert not telemetry_threads()
    assert api.shutdowns == 1
    assert nvml.name == "nvml" and nvml.started
    assert "from 2 devices (2× NVIDIA H100 80GB HBM3)" in nvml.reason
    assert "not reported: gpu1 energy, pcie_tx_bytes_s, pcie_rx_bytes_s" in nvml.reason
    assert memory.name == "gpu-memory" and not memory.started
    summary = context.notes["gpu_telemetry"]
    assert isinstance(summary, dict)
    assert summary["rate_hz_requested"] == 100.0
    assert 20 < summary["rate_hz_achieved"] <= 101
    assert summary["ticks"] >= 5
    assert summary["unsupported"] == {"gpu1": ["energy", "pcie_tx_bytes_s", "pcie_rx_bytes_s"]}
    assert summary["tick_cost_ms"] >= 0
    assert [d["index"] for d in summary["devices"]] == [0, 1]
    devices = context.notes["gpu_devices"]
    assert isinstance(devices, list)
    assert devices[0] == {
        "index": 0,
        "name": "NVIDIA H100 80GB HBM3",
        "memory_total_bytes": 80 * 1024 * MIB,
        "power_limit_w": 700.0,
        "max_sm_clock_mhz": 1980,
        "driver_version": "550.54.15",
        "pci_bus_id": "00000000:01:00.0",
    }
    count = len(context.recording.counters)
    time.sleep(0.05)
    assert len(context.recording.counters) == count  # nothing written after stop
    collector.stop()  # a second stop changes nothing
    assert api.shutdowns == 1


def test_stop_does_not_wait_for_the_next_tick() -> None:
    collector = GpuTelemetryCollector(rate_hz=0.2, api=FakeNvml(), memory_probe=FakeProbe())
    collector.start(make_context())
    time.sleep(0.05)
    began = time.perf_counter()
    collector.stop()
    assert time.perf_counter() - began < 0.5


def test_unavailable_nvml_says_why_and_stop_does_not_raise() -> None:
    api = FakeNvml(init_error=NvmlUnavailable(NO_DRIVER))
    collector = GpuTelemetryCollector(api=api, memory_probe=FakeProbe())
    context = make_context()
    with pytest.raises(NvmlUnavailable, match=r"libnvidia-ml\.so not found"):
        collector.start(context)
    nvml, memory = collector.stop()
    assert not nvml.started and nvml.reason == f"skipped: {NO_DRIVER}"
    assert not memory.started and "did not use CUDA" in memory.reason
    assert api.shutdowns == 0 and not telemetry_threads()


def test_without_nvml_torch_memory_is_still_sampled() -> None:
    api = FakeNvml(init_error=NvmlUnavailable(NO_DRIVER))
    probe = FakeProbe([CudaMemory(0, 10 * MIB, 20 * MIB), CudaMemory(1, 0, 0)])
    collector = GpuTelemetryCollector(rate_hz=100.0, api=api, memory_probe=probe)
    context = make_context()
    collector.start(context)
    time.sleep(0.1)
    nvml, memory = collector.stop()
    assert not nvml.started and NO_DRIVER in nvml.reason
    assert memory.started and "CUDA device 0, 1" in memory.reason
    assert values(context, torch_series(0, "allocated_bytes"))[0] == 10 * MIB
    assert not [c for c in context.recording.counters if c.series.startswith("gpu")]


def test_nvml_trouble_at_shutdown_does_not_raise() -> None:
    api = FakeNvml(shutdown_error=NvmlError("NVML error 999: Unknown Error"))
    collector = GpuTelemetryCollector(rate_hz=50.0, api=api, memory_probe=FakeProbe())
    collector.start(make_context())
    nvml, _ = collector.stop()
    assert nvml.started and api.shutdowns == 1


def test_rate_zero_disables() -> None:
    api = FakeNvml()
    collector = GpuTelemetryCollector(rate_hz=0, api=api, memory_probe=FakeProbe())
    assert collector.is_available() == (False, DISABLED)
    context = make_context()
    collector.start(context)
    assert not telemetry_threads()
    statuses = collector.stop()
    assert [(s.name, s.started, s.reason) for s in statuses] == [
        ("nvml", False, DISABLED),
        ("gpu-memory", False, DISABLED),
    ]
    assert api.shutdowns == 0 and "gpu_telemetry" not in context.notes


def test_importing_the_collectors_does_not_import_pynvml() -> None:
    code = (
        "import sys, workbench, workbench.collectors.gpu_telemetry, workbench.collectors.nvml_api;"
        "assert 'pynvml' not in sys.modules, 'pynvml imported';"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_real_nvml_without_a_driver_says_so() -> None:
    api = PynvmlApi()
    try:
        api.init()
    except NvmlUnavailable as error:
        assert str(error) == NO_DRIVER
    else:
        api.shutdown()
        pytest.skip("this machine has an NVIDIA driver")
    api.shutdown()  # after a failed init: nothing to shut down, no error
    collector = GpuTelemetryCollector(memory_probe=FakeProbe())
    assert collector.is_available() == (True, "")  # cheap: pynvml is importable, no nvmlInit
    with pytest.raises(NvmlUnavailable, match=r"libnvidia-ml\.so not found"):
        collector.start(make_context())
    nvml, _ = collector.stop()
    assert nvml.reason == f"skipped: {NO_DRIVER}"


def test_torch_probe_reads_nothing_without_cuda_initialised() -> None:
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_initialized():
        pytest.skip("CUDA is already initialised in this process")
    assert TorchMemoryProbe().read() == []
    assert not torch.cuda.is_initialized()  # and reading did not initialise it


def test_torch_probe_reads_the_allocator_when_cuda_is_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = types.SimpleNamespace(
        is_initialized=lambda: True,
        device_count=lambda: 2,
        memory_allocated=lambda i: 100 * (i + 1),
        memory_reserved=lambda i: 1000 * (i + 1),
    )
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
    assert TorchMemoryProbe().read() == [CudaMemory(0, 100, 1000), CudaMemory(1, 200, 2000)]
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace())  # half-imported
    assert TorchMemoryProbe().read() == []
