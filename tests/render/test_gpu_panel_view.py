"""The GPU panel's telemetry lines: bounded in the saved output, spikes and dips kept."""

from __future__ import annotations

import numpy as np

from workbench.render.gpu_panel_view import decimate


def test_long_telemetry_lines_keep_each_buckets_extremes() -> None:
    t = np.arange(36_000, dtype=np.int64) * 100_000_000
    values = np.full(36_000, 50.0)
    values[12_345] = 99.0  # one spike
    values[30_000] = 1.0  # one dip
    kept_t, kept = decimate(t, values, 2_000)
    assert len(kept) <= 2_000 and 99.0 in kept and 1.0 in kept
    assert np.all(np.diff(kept_t) > 0)
    _, short = decimate(t[:100], values[:100], 2_000)
    assert len(short) == 100
