"""One NVML device's per-tick readings, dropping the metrics it does not report; its static info."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TypeVar

from workbench.collectors.nvml_api import (
    NvmlApi,
    NvmlError,
    NvmlNotSupported,
    NvmlUnavailable,
    PcieCounter,
)
from workbench.model.series import (
    MEM_USED_BYTES,
    MEM_UTIL_PCT,
    PCIE_RX_BYTES_S,
    PCIE_TX_BYTES_S,
    POWER_W,
    PROC_MEM_BYTES,
    PROC_UTIL_PCT,
    SM_CLOCK_MHZ,
    TEMP_C,
    UTIL_PCT,
    nvml_series,
)

T = TypeVar("T")

# nvmlDeviceGetPcieThroughput measures for ~20 ms inside the call; at the full rate two of them per
# device would take most of a 10 Hz tick, so PCIe is read at most this often.
PCIE_MAX_HZ = 2.0
# Not a series: the energy counter, whose absence sends power to nvmlDeviceGetPowerUsage instead.
ENERGY = "energy"
PCIE: tuple[tuple[str, PcieCounter], ...] = ((PCIE_TX_BYTES_S, "tx"), (PCIE_RX_BYTES_S, "rx"))


class NvmlDevice:
    """One NVML device's readings; a metric the device does not report is dropped after its first refusal."""

    def __init__(self, api: NvmlApi, index: int, pid: int, now_ns: Callable[[], int]) -> None:
        self.api = api
        self.index = index
        self.pid = pid
        self.now_ns = now_ns
        self.unsupported: list[str] = []
        self.errors = 0
        self.lost = ""  # why the device stopped answering, if it did
        self.process_seen = False
        self._energy: tuple[int, int] | None = None  # (millijoules, run-clock ns when read)
        self._pcie_at: int | None = None
        self._last_seen_us: int | None = None  # None until the first process-utilisation read

    def _read(self, metrics: tuple[str, ...], read: Callable[[], T]) -> T | None:
        if self.lost or metrics[0] in self.unsupported:
            return None
        try:
            return read()
        except NvmlNotSupported:
            self.unsupported.extend(metrics)
        except NvmlUnavailable as error:
            self.lost = str(error)
        except NvmlError:
            self.errors += 1  # transient: the next tick asks again
        return None

    def sample(self, t_ns: int, emit: Callable[[str, int, float], None]) -> None:
        def put(metric: str, value: float, at: int = t_ns) -> None:
            emit(nvml_series(self.index, metric), at, value)

        i, api = self.index, self.api
        util = self._read((UTIL_PCT, MEM_UTIL_PCT), lambda: api.utilization(i))
        if util is not None:
            put(UTIL_PCT, util[0])
            put(MEM_UTIL_PCT, util[1])
        memory = self._read((MEM_USED_BYTES,), lambda: api.memory(i))
        if memory is not None:
            put(MEM_USED_BYTES, memory[0])
        self._sample_power(t_ns, put)
        for metric, read in ((SM_CLOCK_MHZ, api.sm_clock_mhz), (TEMP_C, api.temperature_c)):
            value = self._read((metric,), partial(read, i))
            if value is not None:
                put(metric, value)
        if self._pcie_at is None or t_ns - self._pcie_at >= 1e9 / PCIE_MAX_HZ:
            self._pcie_at = t_ns
            for metric, counter in PCIE:
                kbs = self._read((metric,), partial(api.pcie_throughput_kbs, i, counter))
                if kbs is not None:
                    put(metric, kbs * 1024)  # NVML says "KB/s"; read as KiB/s, as nvitop does
        self._sample_process(put)

    def _sample_power(self, t_ns: int, put: Callable[..., None]) -> None:
        before = self.now_ns()
        mj = self._read((ENERGY,), lambda: self.api.total_energy_mj(self.index))
        if mj is not None:
            self._power_from_energy(mj, (before + self.now_ns()) // 2, put)
        elif ENERGY in self.unsupported:
            mw = self._read((POWER_W,), lambda: self.api.power_mw(self.index))
            if mw is not None:
                put(POWER_W, mw / 1000)

    def _power_from_energy(self, mj: int, at: int, put: Callable[..., None]) -> None:
        previous = self._energy
        if previous is not None and mj == previous[0]:
            # The driver refreshes the counter on its own period; an unchanged reading means "not yet",
            # so the older reading stays the base and the next difference spans the whole interval.
            return
        self._energy = (mj, at)
        if previous is not None and mj > previous[0] and at > previous[1]:
            # millijoules per nanosecond = 1e6 W
            put(POWER_W, (mj - previous[0]) * 1e6 / (at - previous[1]), at)

    def _sample_process(self, put: Callable[..., None]) -> None:
        i, api = self.index, self.api
        processes = self._read((PROC_MEM_BYTES,), lambda: api.compute_processes(i))
        mine = [p for p in processes or () if p.pid == self.pid]
        if mine:
            self.process_seen = True
            if mine[0].used_bytes is not None:
                put(PROC_MEM_BYTES, mine[0].used_bytes)
        since = self._last_seen_us
        samples = self._read((PROC_UTIL_PCT,), lambda: api.process_utilization(i, since or 0))
        if not samples:
            if samples is not None and since is None:
                self._last_seen_us = 0
            return
        self._last_seen_us = max(s.timestamp_us for s in samples)
        ours = [s.sm_pct for s in samples if s.pid == self.pid]
        # The first read returns whatever the driver still buffers, from before the run: it only sets
        # the timestamp that later reads continue from.
        if ours and since is not None:
            put(PROC_UTIL_PCT, sum(ours) / len(ours))


def static_info(api: NvmlApi, index: int) -> dict[str, object]:
    """What does not change during a run, for `context.notes["gpu_devices"]`; None where not reported."""

    def get(read: Callable[[], T]) -> T | None:
        try:
            return read()
        except NvmlError:
            return None

    memory = get(lambda: api.memory(index))
    limit_mw = get(lambda: api.power_limit_mw(index))
    return {
        "index": index,
        "name": get(lambda: api.name(index)) or f"GPU {index}",
        "memory_total_bytes": memory[1] if memory else None,
        "power_limit_w": limit_mw / 1000 if limit_mw is not None else None,
        "max_sm_clock_mhz": get(lambda: api.max_sm_clock_mhz(index)),
        "driver_version": get(api.driver_version),
        "pci_bus_id": get(lambda: api.pci_bus_id(index)),
    }
