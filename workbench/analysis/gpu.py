"""`run.metrics["gpu"]`: the op trace's kernel summary and busy/idle time, plus telemetry summaries."""

from __future__ import annotations

from typing import Any

from workbench.analysis.gpu_ops import op_metrics
from workbench.analysis.gpu_telemetry import memory_peaks, series_points, telemetry_summary
from workbench.model.recording import Recording


def gpu_metrics(
    recording: Recording, window_ns: tuple[int, int], notes: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """None when the run has neither an op trace nor GPU telemetry.

    `window_ns` is the part of the run that is the user's code (the cell): busy and idle are measured
    over it. `notes` are what the telemetry collector reported (devices, achieved sample rate)."""
    points = series_points(recording)
    table = recording.ops
    if table is None and not points:
        return None
    metrics: dict[str, Any] = {"window_ms": [window_ns[0] / 1e6, window_ns[1] / 1e6]}
    if table is not None:
        metrics.update(op_metrics(table, window_ns))
        devices = metrics["devices"]
        if devices:
            metrics["busy_share"] = sum(d["busy_share"] for d in devices) / len(devices)
    if points:
        metrics["telemetry"] = telemetry_summary(points)
        metrics["memory_peaks"] = memory_peaks(recording, points)
    notes = notes or {}
    if notes.get("gpu_devices"):
        metrics["device_info"] = notes["gpu_devices"]
    if notes.get("gpu_telemetry"):
        metrics["sampler"] = notes["gpu_telemetry"]
    return metrics
