"""The few NVML calls the GPU telemetry sampler makes, behind a small interface with plain Python types.

`PynvmlApi` is the real one, over `pynvml` (the `nvidia-ml-py` package), imported only when a profile
starts: importing it is cheap, but `nvmlInit()` loads the driver library, and neither belongs at import
time. Its errors come out as ours: `NvmlUnavailable` (no driver, no permission: nothing on this machine
can be read) and `NvmlNotSupported` (this device or driver does not report that metric); anything else
is an `NvmlError`, a failure of one reading that the next tick may not repeat.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

T = TypeVar("T")
PcieCounter = Literal["tx", "rx"]

INSTALL_HINT = "pip install nvidia-ml-py"


class NvmlError(Exception):
    """One NVML reading failed (a timeout, an unknown error); the next one may succeed."""


class NvmlUnavailable(NvmlError):
    """NVML cannot be used here at all; the message is one line saying what is missing and how to fix it."""


class NvmlNotSupported(NvmlError):
    """This device or driver does not report the metric asked for; asking again will not help."""


@dataclass(frozen=True, slots=True)
class ProcessMemory:
    pid: int
    used_bytes: int | None  # None where the driver does not say (Windows WDDM, some vGPUs)


@dataclass(frozen=True, slots=True)
class ProcessUtilization:
    pid: int
    timestamp_us: int  # NVML's own clock (CPU microseconds); only compared with other NVML timestamps
    sm_pct: int


class NvmlApi(Protocol):
    """Devices are named by NVML index; every reading may raise `NvmlNotSupported` or `NvmlError`."""

    def init(self) -> None:
        """Raises `NvmlUnavailable` when NVML cannot be used here."""
        ...

    def shutdown(self) -> None: ...

    def driver_version(self) -> str: ...

    def device_count(self) -> int: ...

    def name(self, device: int) -> str: ...

    def pci_bus_id(self, device: int) -> str: ...

    def memory(self, device: int) -> tuple[int, int]:
        """(used, total) bytes."""
        ...

    def power_limit_mw(self, device: int) -> int: ...

    def max_sm_clock_mhz(self, device: int) -> int: ...

    def utilization(self, device: int) -> tuple[int, int]:
        """(gpu, memory) percent over the driver's last sample period."""
        ...

    def total_energy_mj(self, device: int) -> int:
        """Millijoules since the driver loaded."""
        ...

    def power_mw(self, device: int) -> int: ...

    def sm_clock_mhz(self, device: int) -> int: ...

    def temperature_c(self, device: int) -> int: ...

    def pcie_throughput_kbs(self, device: int, counter: PcieCounter) -> int:
        """KB/s, measured by the driver over a short window (about 20 ms) during the call."""
        ...

    def compute_processes(self, device: int) -> list[ProcessMemory]: ...

    def process_utilization(self, device: int, since_us: int) -> list[ProcessUtilization]:
        """Samples newer than `since_us` (0: whatever the driver still holds); empty when there are none."""
        ...


# NVML return codes (nvml.h); matched by value so that no pynvml class is needed to classify an error.
_LIBRARY_NOT_FOUND = 12
_UNAVAILABLE = {
    1: "NVML is not initialised",
    4: "no permission to read the GPU (run as a user with access to /dev/nvidia*)",
    9: "NVIDIA driver is not loaded (load the kernel module or reboot after installing the driver)",
    12: "no NVIDIA driver: libnvidia-ml.so not found (GPU telemetry needs the NVIDIA driver)",
    15: "the GPU has fallen off the bus (GPU is lost; check dmesg, a reset is needed)",
    16: "the GPU needs a reset before NVML can read it",
    17: "the operating system blocked NVML (check container device permissions)",
    18: "NVIDIA driver and libnvidia-ml.so versions differ (reboot or reload the driver)",
    28: "no NVIDIA GPU found by the driver",
}
# NOT_SUPPORTED; FUNCTION_NOT_FOUND (a driver older than pynvml); DEPRECATED (a driver that dropped the call).
_NOT_SUPPORTED = {3, 13, 26}


def translate(error: Exception) -> NvmlError:
    """Our error for one of pynvml's (`NVMLError` carries the NVML return code in `.value`)."""
    code = getattr(error, "value", None)
    if code in _UNAVAILABLE:
        return NvmlUnavailable(_UNAVAILABLE[code])
    if code in _NOT_SUPPORTED:
        return NvmlNotSupported(str(error))
    return NvmlError(f"NVML error {code}: {error}")


def _text(value: str | bytes) -> str:
    # Older pynvml releases return bytes for strings, newer ones str.
    return value.decode(errors="replace") if isinstance(value, bytes) else value


class PynvmlApi:
    """`NvmlApi` over `pynvml`; device handles are looked up once and kept."""

    def __init__(self) -> None:
        self._nvml: Any = None
        self._handles: dict[int, Any] = {}

    @staticmethod
    def importable() -> tuple[bool, str]:
        """Whether `pynvml` can be imported, without loading the driver library."""
        import importlib.util

        if importlib.util.find_spec("pynvml") is None:
            return False, f"pynvml is not installed ({INSTALL_HINT})"
        return True, ""

    def _call(self, function: Callable[..., T], *args: Any) -> T:
        try:
            return function(*args)
        except self._nvml.NVMLError as error:
            raise translate(error) from error

    def _handle(self, device: int) -> Any:
        handle = self._handles.get(device)
        if handle is None:
            handle = self._handles[device] = self._call(self._nvml.nvmlDeviceGetHandleByIndex, device)
        return handle

    def init(self) -> None:
        try:
            import pynvml
        except ImportError as error:
            raise NvmlUnavailable(f"pynvml is not installed ({INSTALL_HINT})") from error
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as error:
            translated = translate(error)
            if isinstance(translated, NvmlUnavailable):
                raise translated from error
            raise NvmlUnavailable(f"NVML failed to start: {error}") from error
        # Set only once initialised: shutdown() must not call nvmlShutdown after a failed init.
        self._nvml = pynvml

    def shutdown(self) -> None:
        self._handles.clear()
        if self._nvml is not None:
            nvml, self._nvml = self._nvml, None
            try:
                nvml.nvmlShutdown()
            except nvml.NVMLError as error:
                raise translate(error) from error

    def driver_version(self) -> str:
        return _text(self._call(self._nvml.nvmlSystemGetDriverVersion))

    def device_count(self) -> int:
        return int(self._call(self._nvml.nvmlDeviceGetCount))

    def name(self, device: int) -> str:
        return _text(self._call(self._nvml.nvmlDeviceGetName, self._handle(device)))

    def pci_bus_id(self, device: int) -> str:
        info = self._call(self._nvml.nvmlDeviceGetPciInfo, self._handle(device))
        return _text(info.busId)

    def memory(self, device: int) -> tuple[int, int]:
        info = self._call(self._nvml.nvmlDeviceGetMemoryInfo, self._handle(device))
        return int(info.used), int(info.total)

    def power_limit_mw(self, device: int) -> int:
        return int(self._call(self._nvml.nvmlDeviceGetEnforcedPowerLimit, self._handle(device)))

    def max_sm_clock_mhz(self, device: int) -> int:
        nvml = self._nvml
        return int(self._call(nvml.nvmlDeviceGetMaxClockInfo, self._handle(device), nvml.NVML_CLOCK_SM))

    def utilization(self, device: int) -> tuple[int, int]:
        rates = self._call(self._nvml.nvmlDeviceGetUtilizationRates, self._handle(device))
        return int(rates.gpu), int(rates.memory)

    def total_energy_mj(self, device: int) -> int:
        return int(self._call(self._nvml.nvmlDeviceGetTotalEnergyConsumption, self._handle(device)))

    def power_mw(self, device: int) -> int:
        return int(self._call(self._nvml.nvmlDeviceGetPowerUsage, self._handle(device)))

    def sm_clock_mhz(self, device: int) -> int:
        nvml = self._nvml
        return int(self._call(nvml.nvmlDeviceGetClockInfo, self._handle(device), nvml.NVML_CLOCK_SM))

    def temperature_c(self, device: int) -> int:
        nvml = self._nvml
        return int(self._call(nvml.nvmlDeviceGetTemperature, self._handle(device), nvml.NVML_TEMPERATURE_GPU))

    def pcie_throughput_kbs(self, device: int, counter: PcieCounter) -> int:
        nvml = self._nvml
        which = nvml.NVML_PCIE_UTIL_TX_BYTES if counter == "tx" else nvml.NVML_PCIE_UTIL_RX_BYTES
        return int(self._call(nvml.nvmlDeviceGetPcieThroughput, self._handle(device), which))

    def compute_processes(self, device: int) -> list[ProcessMemory]:
        processes = self._call(self._nvml.nvmlDeviceGetComputeRunningProcesses, self._handle(device))
        return [ProcessMemory(int(p.pid), p.usedGpuMemory) for p in processes]

    def process_utilization(self, device: int, since_us: int) -> list[ProcessUtilization]:
        nvml = self._nvml
        try:
            samples = nvml.nvmlDeviceGetProcessUtilization(self._handle(device), since_us)
        except nvml.NVMLError_NotFound:
            return []  # no process ran a kernel since `since_us`: not an error
        except nvml.NVMLError as error:
            raise translate(error) from error
        return [ProcessUtilization(int(s.pid), int(s.timeStamp), int(s.smUtil)) for s in samples]
