"""GPU telemetry: one daemon thread reading NVML and torch's allocator on a fixed schedule.

Per tick and NVML device it writes utilisation, memory, power, SM clock, temperature, PCIe throughput and
this process's own memory and SM share as `Counter`s (series names from `workbench.model.series`); per
CUDA device, torch's allocated and reserved bytes. Rates come from measured intervals, never from the
nominal period: power is the energy counter's difference over the time between its two readings, and the
achieved sampling rate is counted from the ticks that actually ran.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from workbench.collectors.base import CollectorContext
from workbench.collectors.gpu_memory import MemoryProbe, TorchMemoryProbe
from workbench.collectors.nvml_api import (
    NvmlApi,
    NvmlError,
    NvmlUnavailable,
    PynvmlApi,
)
from workbench.collectors.nvml_device import NvmlDevice, static_info
from workbench.model.events import CollectorStatus, Counter
from workbench.model.series import (
    ALLOCATED_BYTES,
    RESERVED_BYTES,
    torch_series,
)

THREAD_NAME = "workbench-gpu-telemetry"
JOIN_TIMEOUT_S = 2.0
DISABLED = "disabled with --nvml-rate 0"


@dataclass
class TickStats:
    """Measured, not assumed: first and last tick start, how many ran, how many were skipped."""

    ticks: int = 0
    late: int = 0
    first_ns: int = 0
    last_ns: int = 0
    cpu_ns: int = 0
    torch_samples: int = 0
    torch_devices: set[int] = field(default_factory=set)

    def achieved_hz(self) -> float:
        span = self.last_ns - self.first_ns
        return (self.ticks - 1) * 1e9 / span if self.ticks > 1 and span > 0 else 0.0


class GpuSampler:
    """One tick's work over every device; the collector's thread calls `tick()` on its schedule."""

    def __init__(self, context: CollectorContext, devices: list[NvmlDevice], probe: MemoryProbe) -> None:
        self.context = context
        self.devices = devices
        self.probe = probe
        self.stats = TickStats()

    def _emit(self, series: str, t_ns: int, value: float) -> None:
        self.context.recording.add_counter(Counter(series, t_ns, float(value)))

    def tick(self) -> None:
        cpu_before = time.thread_time_ns()
        t_ns = self.context.clock.now_ns()
        stats = self.stats
        if stats.ticks == 0:
            stats.first_ns = t_ns
        stats.ticks += 1
        stats.last_ns = t_ns
        for device in self.devices:
            device.sample(t_ns, self._emit)
        for memory in self.probe.read():
            self._emit(torch_series(memory.device, ALLOCATED_BYTES), t_ns, memory.allocated_bytes)
            self._emit(torch_series(memory.device, RESERVED_BYTES), t_ns, memory.reserved_bytes)
            stats.torch_samples += 1
            stats.torch_devices.add(memory.device)
        stats.cpu_ns += time.thread_time_ns() - cpu_before


def run_schedule(
    tick: Callable[[], None], now_ns: Callable[[], int], period_ns: int, stop: threading.Event
) -> int:
    """Call `tick` on absolute deadlines until `stop` is set; returns how many deadlines were skipped.

    Deadlines advance by whole periods from the first tick, so delays do not accumulate into drift; a
    tick that overruns skips the deadlines it missed instead of bursting to catch up.
    """
    late = 0
    deadline = now_ns()
    while not stop.is_set():
        tick()
        deadline += period_ns
        now = now_ns()
        if now > deadline:
            missed = (now - deadline) // period_ns + 1
            late += missed
            deadline += missed * period_ns
        if stop.wait((deadline - now) / 1e9):
            break
    return late


class GpuTelemetryCollector:
    """NVML telemetry per device and torch's allocator per CUDA device, sampled by one daemon thread.

    `rate_hz=0` disables it. `api` and `memory_probe` replace the real NVML and torch (tests use fakes).
    `stop()` returns two statuses, "nvml" and "gpu-memory", and writes `context.notes["gpu_telemetry"]`.
    """

    name = "gpu"

    def __init__(
        self, rate_hz: float = 10.0, api: NvmlApi | None = None, memory_probe: MemoryProbe | None = None
    ) -> None:
        if rate_hz < 0:
            raise ValueError(f"rate_hz must be >= 0 (0 disables GPU telemetry), not {rate_hz}")
        self.rate_hz = rate_hz
        self._api = api
        self._probe = memory_probe if memory_probe is not None else TorchMemoryProbe()
        self._context: CollectorContext | None = None
        self._sampler: GpuSampler | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._nvml_reason = ""  # why NVML is not sampled, when it is not
        self._initialised = False
        self._failure = ""
        self._names: list[str] = []

    def is_available(self) -> tuple[bool, str]:
        if self.rate_hz == 0:
            return False, DISABLED
        if self._api is not None:
            return True, ""
        importable, reason = PynvmlApi.importable()
        # Without pynvml, torch's allocator can still be read where the process already uses CUDA.
        return (True, "") if importable or self._probe.read() else (False, reason)

    def start(self, context: CollectorContext) -> None:
        """Raises `NvmlUnavailable` (one line: what is missing, how to fix it) when nothing can be sampled."""
        self._context = context
        if self.rate_hz == 0:
            self._nvml_reason = DISABLED
            return
        devices = self._open_nvml(context)
        if not devices and not self._probe.read():
            self._close_nvml()
            raise NvmlUnavailable(self._nvml_reason)
        self._sampler = GpuSampler(context, devices, self._probe)
        self._thread = threading.Thread(target=self._loop, name=THREAD_NAME, daemon=True)
        self._thread.start()
        # Named in the run now: the session names sampled threads after this one has ended.
        context.recording.threads[self._thread.ident or 0] = self._thread.name

    def _open_nvml(self, context: CollectorContext) -> list[NvmlDevice]:
        api = self._api = self._api if self._api is not None else PynvmlApi()
        try:
            api.init()
            self._initialised = True
            count = api.device_count()
        except NvmlError as error:
            self._nvml_reason = str(error)
            return []
        if count == 0:
            self._nvml_reason = "NVML found no GPU on this machine"
            return []
        self._names = [str(info["name"]) for info in self._static(api, count, context)]
        return [NvmlDevice(api, i, context.pid, context.clock.now_ns) for i in range(count)]

    @staticmethod
    def _static(api: NvmlApi, count: int, context: CollectorContext) -> list[dict[str, object]]:
        info = [static_info(api, i) for i in range(count)]
        context.notes["gpu_devices"] = info
        return info

    def _loop(self) -> None:
        sampler, context = self._sampler, self._context
        assert sampler is not None and context is not None
        period_ns = max(1, round(1e9 / self.rate_hz))
        try:
            sampler.stats.late = run_schedule(sampler.tick, context.clock.now_ns, period_ns, self._stop)
        except Exception as error:
            # A bug in one reading must not take the user's run down with it; the status reports it.
            self._failure = f"{type(error).__name__}: {error}"

    def _close_nvml(self) -> None:
        if self._initialised and self._api is not None:
            self._initialised = False
            # The driver's own trouble at shutdown changes nothing about what was recorded.
            with contextlib.suppress(NvmlError):
                self._api.shutdown()

    def stop(self) -> list[CollectorStatus]:
        """Stop the thread, release NVML and say how it went; never raises for NVML's own problems."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join(JOIN_TIMEOUT_S)
            if thread.is_alive():
                # Stuck inside the driver (a lost GPU can block for seconds): leave NVML to it.
                self._failure = self._failure or f"sampler thread still inside NVML after {JOIN_TIMEOUT_S} s"
                self._initialised = False
        self._close_nvml()
        if self._context is None:
            return [
                CollectorStatus("nvml", False, "never started"),
                CollectorStatus("gpu-memory", False, "never started"),
            ]
        if self._sampler is not None:
            self._context.notes["gpu_telemetry"] = self._summary(self._sampler)
        return [self._nvml_status(), self._memory_status()]

    def _summary(self, sampler: GpuSampler) -> dict[str, object]:
        stats = sampler.stats
        return {
            "rate_hz_requested": self.rate_hz,
            "rate_hz_achieved": round(stats.achieved_hz(), 2),
            "ticks": stats.ticks,
            "late": stats.late,
            "tick_cost_ms": round(stats.cpu_ns / stats.ticks / 1e6, 3) if stats.ticks else 0.0,
            "devices": [
                {
                    "index": d.index,
                    "errors": d.errors,
                    "lost": d.lost or None,
                    "process_seen": d.process_seen,
                }
                for d in sampler.devices
            ],
            "unsupported": {f"gpu{d.index}": list(d.unsupported) for d in sampler.devices if d.unsupported},
        }

    def _device_names(self) -> str:
        counts = {name: self._names.count(name) for name in self._names}
        return ", ".join(name if n == 1 else f"{n}× {name}" for name, n in counts.items())

    def _nvml_status(self) -> CollectorStatus:
        sampler = self._sampler
        if sampler is None or not sampler.devices:
            reason = self._nvml_reason if self._nvml_reason == DISABLED else f"skipped: {self._nvml_reason}"
            return CollectorStatus("nvml", False, reason)
        stats, devices = sampler.stats, sampler.devices
        plural = "s" if len(devices) > 1 else ""
        parts = [
            f"{stats.ticks} samples at {stats.achieved_hz():.1f} Hz from {len(devices)} device{plural}"
            f" ({self._device_names()})"
        ]
        unsupported = [f"gpu{d.index} {', '.join(d.unsupported)}" for d in devices if d.unsupported]
        if unsupported:
            parts.append(f"not reported: {'; '.join(unsupported)}")
        parts += [f"gpu{d.index} lost: {d.lost}" for d in devices if d.lost]
        if stats.late:
            parts.append(f"{stats.late} late ticks skipped")
        if self._failure:
            parts.append(f"stopped early: {self._failure}")
        return CollectorStatus("nvml", True, "; ".join(parts))

    def _memory_status(self) -> CollectorStatus:
        sampler = self._sampler
        if self.rate_hz == 0:
            return CollectorStatus("gpu-memory", False, DISABLED)
        if sampler is None or not sampler.stats.torch_samples:
            return CollectorStatus("gpu-memory", False, "skipped: torch did not use CUDA in this process")
        stats = sampler.stats
        devices = ", ".join(str(d) for d in sorted(stats.torch_devices))
        return CollectorStatus(
            "gpu-memory",
            True,
            f"{stats.torch_samples} readings of torch's allocator on CUDA device {devices}",
        )
