"""A run's metrics from its recording: what a session computes when a cell ends, and what a crashed run's
recovery computes again from its journal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.analysis.cpu import cpu_metrics
from workbench.analysis.critical_path import stage_metrics
from workbench.analysis.gpu import gpu_metrics
from workbench.analysis.repeat import repeat_metrics
from workbench.analysis.server import server_metrics
from workbench.analysis.server_split import add_ttft_split
from workbench.analysis.tokens import token_metrics
from workbench.model.gil import NOTES_KEY as GIL_NOTES_KEY
from workbench.model.recording import Recording


def run_metrics(
    recording: Recording,
    window_ns: tuple[int, int],
    notes: Mapping[str, object],
    *,
    cpu_rate_hz: float | None,
    slo: Mapping[str, float] | None = None,
    repeat: int | None = None,
    warmup: int = 0,
) -> dict[str, Any]:
    """`run.metrics` before findings and budgets. `window_ns` is the cell's part of the run clock;
    `notes` what the collectors reported; `cpu_rate_hz` None when no CPU profiler ran."""
    start, end = window_ns
    metrics: dict[str, Any] = {
        "wall_s": (end - start) / 1e9,
        "cell_start_ms": start / 1e6,
        "cell_end_ms": end / 1e6,
        "tokens": token_metrics(recording, slo=slo),
        "stages": stage_metrics(recording),
    }
    if cpu_rate_hz is not None:
        samples = notes.get("cpu_samples")
        metrics["cpu"] = cpu_metrics(recording, samples if isinstance(samples, int) else None, cpu_rate_hz)
    if isinstance(notes.get(GIL_NOTES_KEY), dict):
        metrics["gil_probe"] = notes[GIL_NOTES_KEY]
    gpu = gpu_metrics(recording, window_ns, dict(notes))
    if gpu is not None:
        metrics["gpu"] = gpu
    add_ttft_split(recording, metrics["tokens"])
    server = server_metrics(recording, notes)
    if server is not None:
        metrics["server"] = server
    if repeat is not None:
        metrics["repeat"] = repeat_metrics(recording, repeat, warmup)
    if recording.dropped:
        metrics["dropped_events"] = dict(recording.dropped)
    return metrics
