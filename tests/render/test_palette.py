from __future__ import annotations

from workbench.render.palette import (
    NEUTRAL,
    PHASE_COLORS,
    PHASE_TITLES,
    package_color,
    package_of,
    phase_color,
    span_kind_color,
)


def test_package_of_installed_and_local_files() -> None:
    assert package_of("/usr/lib/python3/site-packages/numpy/linalg/linalg.py") == "numpy"
    assert package_of("/venv/lib/python3.11/dist-packages/torch/nn/module.py") == "torch"
    assert package_of("/home/me/rag.py") == "rag"
    assert package_of("") == ""


def test_colours_are_stable_and_synthetic_frames_are_neutral() -> None:
    assert package_color("numpy") == package_color("numpy")
    assert package_color("") == NEUTRAL
    assert span_kind_color("llm") != span_kind_color("retrieval")
    assert span_kind_color("gpu_kernel") == span_kind_color("gpu_kernel")


def test_every_request_phase_has_its_own_colour_and_title() -> None:
    assert set(PHASE_COLORS) == set(PHASE_TITLES)
    assert len(set(PHASE_COLORS.values())) == len(PHASE_COLORS)
    assert phase_color("decode") == PHASE_COLORS["decode"]
    assert phase_color("unknown phase") == NEUTRAL
