"""The GPU side of a profiling session: torch.profiler's op trace and the NVML telemetry sampler.

Each starts only when asked or useful, and a failure to start is a status (and, when the user asked
for it explicitly, a one-line notice), never an exception in the user's cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.collectors.base import CollectorContext
from workbench.model.events import CollectorStatus
from workbench.options import DEFAULT_NVML_RATE_HZ, ProfileOptions


@dataclass
class GpuCollectors:
    options: ProfileOptions
    statuses: list[CollectorStatus] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    _kernels: Any = None
    _telemetry: Any = None

    def start(self, context: CollectorContext) -> None:
        self._start_telemetry(context)
        self._start_kernels(context)

    def _start_kernels(self, context: CollectorContext) -> None:
        from workbench.collectors.torch_ops import TorchOpsCollector, kernels_by_default

        wanted = self.options.kernels
        if wanted is False:
            self.statuses.append(CollectorStatus("kernels", False, "disabled with --no-kernels"))
            return
        if wanted is None and not kernels_by_default():
            return  # not asked for, and no CUDA to trace: nothing to report

        collector = TorchOpsCollector()
        try:
            collector.start(context)
        except Exception as error:
            self._skip("kernels", f"torch.profiler could not start ({error})")
            return
        self._kernels = collector
        if wanted and collector.gpu_note:
            self.notices.append(f"kernels: {collector.gpu_note}")

    def _start_telemetry(self, context: CollectorContext) -> None:
        rate = self.options.nvml_rate
        if rate == 0:
            self.statuses.append(CollectorStatus("nvml", False, "disabled with --nvml-rate 0"))
            return
        from workbench.collectors.gpu_telemetry import GpuTelemetryCollector
        from workbench.collectors.torch_ops import cuda_available

        collector = GpuTelemetryCollector(rate_hz=DEFAULT_NVML_RATE_HZ if rate is None else rate)
        # Unasked, on a machine where torch sees no GPU either, no telemetry is the expected case.
        quiet = rate is None and not cuda_available()
        available, reason = collector.is_available()
        if not available:
            self._skip("nvml", reason, quiet)
            return
        try:
            collector.start(context)
        except Exception as error:
            self._skip("nvml", str(error), quiet)
            return
        self._telemetry = collector

    def _skip(self, name: str, reason: str, quiet: bool = False) -> None:
        """Record a collector that did not start; `quiet` when it was not asked for and is not expected
        to work (no NVIDIA driver on a CPU machine), so every run there does not report it."""
        if quiet:
            return
        self.statuses.append(CollectorStatus(name, False, reason))
        self.notices.append(f"{name}: {reason}")

    def stop(self) -> None:
        """Stop both; the op trace is converted here, after the cell's time window has closed."""
        if self._kernels is not None:
            try:
                self.statuses.append(self._kernels.stop())
            except Exception as error:
                self._skip("kernels", f"failed while stopping ({type(error).__name__}: {error})")
            self._kernels = None
        if self._telemetry is not None:
            try:
                self.statuses.extend(self._telemetry.stop())
            except Exception as error:
                self._skip("nvml", f"failed while stopping ({type(error).__name__}: {error})")
            self._telemetry = None
