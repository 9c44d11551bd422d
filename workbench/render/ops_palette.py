"""Colours of torch.profiler event categories on the op timeline.

Tones from the same muted families as `palette.py`: host work cool and pale, GPU work saturated, so the
eye finds the device rows first; the launch overhead (CUDA runtime calls) is warm, as waiting is elsewhere.
"""

from __future__ import annotations

from workbench.render.palette import NEUTRAL

OPS_CATEGORY_COLORS = {
    "cpu_op": "#9ecae1",
    "user_annotation": "#fdae6b",
    "python_function": "#d4b9da",
    "cuda_runtime": "#fcbba1",
    "cuda_driver": "#fdd0a2",
    "kernel": "#41ab5d",
    "gpu_memcpy": "#fd8d3c",
    "gpu_memset": "#9e9ac8",
    "cuda_sync": "#bdbdbd",
    "gpu_user_annotation": "#c7e9c0",
    "other": NEUTRAL,
}
# Outline of the boxes drawn around a kernel's launching op and runtime call when the kernel is clicked.
LAUNCH_HIGHLIGHT = "#d62728"


def ops_category_color(category: str) -> str:
    return OPS_CATEGORY_COLORS.get(category, NEUTRAL)
