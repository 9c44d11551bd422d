"""Summaries of GPU telemetry counters (NVML, torch's allocator) and GPU memory peaks per span."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from workbench.model.recording import Recording
from workbench.model.series import ALLOCATED_BYTES, MEM_USED_BYTES, PROC_MEM_BYTES, split_series

# Ops live in the OpTable, so spans are the pipeline's own stages and requests; an agent loop can still
# open thousands, and the table is for reading.
MAX_PEAK_ROWS = 200


def series_points(recording: Recording) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """GPU series name -> (t_ns, values), in time order."""
    grouped: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for point in recording.counters:
        if split_series(point.series) is not None:
            grouped[point.series].append((point.t_ns, point.value))
    out = {}
    for series, points in grouped.items():
        points.sort()
        times = np.fromiter((t for t, _ in points), np.int64, len(points))
        values = np.fromiter((v for _, v in points), np.float64, len(points))
        out[series] = (times, values)
    return out


def telemetry_summary(points: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, dict[str, float]]:
    return {
        series: {
            "mean": float(values.mean()),
            "min": float(values.min()),
            "max": float(values.max()),
            "last": float(values[-1]),
            "points": int(values.size),
        }
        for series, (_, values) in sorted(points.items())
    }


def _memory_series(points: dict[str, tuple[np.ndarray, np.ndarray]]) -> list[str]:
    """The series that best measure this process's GPU memory: torch's allocator, else NVML's."""
    for metric in (ALLOCATED_BYTES, PROC_MEM_BYTES, MEM_USED_BYTES):
        chosen = [s for s in points if (parts := split_series(s)) is not None and parts[2] == metric]
        if chosen:
            return sorted(chosen)
    return []


SeriesPoints = dict[str, tuple[np.ndarray, np.ndarray]]


def memory_peaks(recording: Recording, points: SeriesPoints) -> list[dict[str, Any]]:
    """Peak GPU memory while each pipeline span was open (the samples taken within it)."""
    rows: list[dict[str, Any]] = []
    for series in _memory_series(points):
        times, values = points[series]
        for span in recording.spans:
            if span.end_ns is None:
                continue
            lo, hi = np.searchsorted(times, [span.start_ns, span.end_ns], side="left")
            if hi > lo:
                rows.append(
                    {
                        "span_id": span.span_id,
                        "name": span.name,
                        "kind": span.kind,
                        "series": series,
                        "peak_bytes": float(values[lo:hi].max()),
                        "start_bytes": float(values[lo]),
                    }
                )
    return rows[:MAX_PEAK_ROWS]
