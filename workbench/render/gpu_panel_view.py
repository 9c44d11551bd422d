"""The GPU panel's view-model: telemetry tracks on the run clock and the kernel summary rows.

Tracks group series that share a unit (utilisation %, memory GiB, power W, ...), one line per device
and metric; the table rows come from `run.metrics["gpu"]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.analysis.gpu_telemetry import series_points
from workbench.model import series as s
from workbench.model.run import Run

GIB = 2**30
# (title, unit scale, metrics) per track, in the order they are drawn.
TRACKS: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("utilisation %", 1.0, (s.UTIL_PCT, s.MEM_UTIL_PCT, s.PROC_UTIL_PCT)),
    ("memory GiB", 1 / GIB, (s.MEM_USED_BYTES, s.PROC_MEM_BYTES, s.ALLOCATED_BYTES, s.RESERVED_BYTES)),
    ("power W", 1.0, (s.POWER_W,)),
    ("SM clock MHz", 1.0, (s.SM_CLOCK_MHZ,)),
    ("PCIe MB/s", 1e-6, (s.PCIE_TX_BYTES_S, s.PCIE_RX_BYTES_S)),
    ("temperature °C", 1.0, (s.TEMP_C,)),
)
LABELS = {
    s.UTIL_PCT: "GPU util",
    s.MEM_UTIL_PCT: "memory util",
    s.PROC_UTIL_PCT: "this process's SM util",
    s.MEM_USED_BYTES: "device memory used",
    s.PROC_MEM_BYTES: "this process's memory",
    s.ALLOCATED_BYTES: "torch allocated",
    s.RESERVED_BYTES: "torch reserved",
    s.POWER_W: "power",
    s.SM_CLOCK_MHZ: "SM clock",
    s.PCIE_TX_BYTES_S: "PCIe TX",
    s.PCIE_RX_BYTES_S: "PCIe RX",
    s.TEMP_C: "temperature",
}


@dataclass(frozen=True)
class Line:
    label: str
    series: str
    t_ms: list[float]
    values: list[float]


@dataclass(frozen=True)
class Track:
    title: str
    lines: list[Line]


@dataclass(frozen=True)
class GpuPanelView:
    tracks: list[Track]
    kernel_rows: list[dict[str, Any]]
    summary: list[str]
    note: str

    @property
    def empty(self) -> bool:
        return not self.tracks and not self.kernel_rows and not self.summary

    @classmethod
    def from_run(cls, run: Run) -> GpuPanelView:
        gpu = run.metrics.get("gpu") if isinstance(run.metrics.get("gpu"), dict) else None
        return cls(
            tracks=_tracks(run),
            kernel_rows=list((gpu or {}).get("top_kernels") or []),
            summary=_summary(gpu or {}),
            note=str((gpu or {}).get("gpu_note") or ""),
        )


# Points per telemetry line in the saved output: an hour at 10 Hz is 36k; a few thousand draw the same.
MAX_LINE_POINTS = 2_000


def decimate(t: np.ndarray, values: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most `max_points` points: past that, each of max_points/2 equal time buckets keeps its lowest and
    its highest point, in time order, so a spike or a dip survives (as in nvdashboard's long views)."""
    if len(t) <= max_points:
        return t, values
    buckets = max_points // 2
    edges = np.linspace(t[0], t[-1], buckets + 1)
    index = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, buckets - 1)
    keep: list[int] = []
    starts = np.searchsorted(index, np.arange(buckets), side="left")
    ends = np.searchsorted(index, np.arange(buckets), side="right")
    for lo, hi in zip(starts, ends, strict=True):
        if hi > lo:
            chunk = values[lo:hi]
            keep.extend(sorted({lo + int(np.argmin(chunk)), lo + int(np.argmax(chunk))}))
    chosen = np.asarray(keep, dtype=np.int64)
    return t[chosen], values[chosen]


def _tracks(run: Run) -> list[Track]:
    points = series_points(run.recording)
    by_metric: dict[str, list[str]] = {}
    for name in sorted(points):
        parsed = s.split_series(name)
        if parsed is not None:
            by_metric.setdefault(parsed[2], []).append(name)
    tracks = []
    for title, scale, metrics in TRACKS:
        lines = [
            Line(
                label=f"{LABELS[metric]} ({name.partition('.')[0]})",
                series=name,
                t_ms=(t_ns / 1e6).tolist(),
                values=(values * scale).tolist(),
            )
            for metric in metrics
            for name in by_metric.get(metric, [])
            for t_ns, values in [decimate(*points[name], MAX_LINE_POINTS)]
        ]
        if lines:
            tracks.append(Track(title, lines))
    return tracks


def _summary(gpu: dict[str, Any]) -> list[str]:
    from workbench.render.gpu_summary import gpu_lines

    return [f"{label}: {text}" for label, text in gpu_lines(gpu)]
