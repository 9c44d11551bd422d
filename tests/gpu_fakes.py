"""Test doubles of the GPU side: a scripted NVML with two devices, a torch memory probe, a clock to move."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from workbench.clock import RunClock
from workbench.collectors.gpu_memory import CudaMemory
from workbench.collectors.nvml_api import (
    NvmlError,
    NvmlNotSupported,
    PcieCounter,
    ProcessMemory,
    ProcessUtilization,
)

PID = os.getpid()
OTHER_PID = PID + 1
MIB = 1 << 20


class FakeClock(RunClock):
    """A run clock that stands still until the test moves it."""

    def __init__(self) -> None:
        super().__init__(origin_perf_ns=0, origin_wall_s=0.0)
        object.__setattr__(self, "t", 0)

    def now_ns(self) -> int:
        return int(self.t)  # type: ignore[attr-defined]

    def advance(self, seconds: float) -> None:
        object.__setattr__(self, "t", self.now_ns() + round(seconds * 1e9))


@dataclass
class FakeNvml:
    """Two devices: 0 reports everything (with an energy counter), 1 has no energy counter and no PCIe."""

    clock: FakeClock | None = None
    watts: float = 100.0  # device 0's draw, integrated into its energy counter against the clock
    init_error: NvmlError | None = None
    shutdown_error: NvmlError | None = None
    calls: dict[str, int] = field(default_factory=dict)
    since: list[int] = field(default_factory=list)
    shutdowns: int = 0
    _energy_mj: float = 1_000_000.0
    _energy_at: int = 0

    def _count(self, name: str, device: int) -> None:
        key = f"{name}:{device}"
        self.calls[key] = self.calls.get(key, 0) + 1

    def init(self) -> None:
        if self.init_error is not None:
            raise self.init_error

    def shutdown(self) -> None:
        self.shutdowns += 1
        if self.shutdown_error is not None:
            raise self.shutdown_error

    def driver_version(self) -> str:
        return "550.54.15"

    def device_count(self) -> int:
        return 2

    def name(self, device: int) -> str:
        return "NVIDIA H100 80GB HBM3"

    def pci_bus_id(self, device: int) -> str:
        return f"00000000:{device + 1:02X}:00.0"

    def memory(self, device: int) -> tuple[int, int]:
        return (1000 + device) * MIB, 80 * 1024 * MIB

    def power_limit_mw(self, device: int) -> int:
        return 700_000

    def max_sm_clock_mhz(self, device: int) -> int:
        return 1980

    def utilization(self, device: int) -> tuple[int, int]:
        return 50 + device, 20 + device

    def total_energy_mj(self, device: int) -> int:
        self._count("energy", device)
        if device == 1:
            raise NvmlNotSupported("Not Supported")
        now = self.clock.now_ns() if self.clock else time.perf_counter_ns()
        self._energy_mj += self.watts * (now - self._energy_at) / 1e6
        self._energy_at = now
        return int(self._energy_mj)

    def power_mw(self, device: int) -> int:
        return 75_500

    def sm_clock_mhz(self, device: int) -> int:
        return 1755

    def temperature_c(self, device: int) -> int:
        return 41 + device

    def pcie_throughput_kbs(self, device: int, counter: PcieCounter) -> int:
        self._count(f"pcie-{counter}", device)
        if device == 1:
            raise NvmlNotSupported("Not Supported")
        return 1000 if counter == "tx" else 2000

    def compute_processes(self, device: int) -> list[ProcessMemory]:
        if device == 1:
            return [ProcessMemory(PID, None)]
        return [ProcessMemory(OTHER_PID, 4096 * MIB), ProcessMemory(PID, 512 * MIB)]

    def process_utilization(self, device: int, since_us: int) -> list[ProcessUtilization]:
        if device == 1:
            return []
        self.since.append(since_us)
        if since_us == 0:  # what the driver still buffers from before the run
            return [ProcessUtilization(PID, 100, 90), ProcessUtilization(OTHER_PID, 100, 10)]
        last = since_us + 150
        return [
            ProcessUtilization(PID, since_us + 50, 40),
            ProcessUtilization(OTHER_PID, since_us + 100, 5),
            ProcessUtilization(PID, last, 60),
        ]


class FakeProbe:
    def __init__(self, readings: list[CudaMemory] | None = None) -> None:
        self.readings = readings or []

    def read(self) -> list[CudaMemory]:
        return list(self.readings)
