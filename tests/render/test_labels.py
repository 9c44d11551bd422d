"""Label fitting: which bars get a label at a given zoom, and how much of it."""

from __future__ import annotations

from workbench.render.labels import CHAR_PX, PAD_PX, fit_label, fit_labels


def test_a_label_that_fits_is_kept_whole() -> None:
    assert fit_label("generate", PAD_PX + CHAR_PX * 8) == "generate"


def test_a_long_label_is_cut_with_an_ellipsis() -> None:
    fitted = fit_label("generate_answer", PAD_PX + CHAR_PX * 6)
    assert fitted == "gener…"


def test_a_narrow_bar_gets_no_label() -> None:
    assert fit_label("generate", PAD_PX + CHAR_PX * 2) is None


def test_labels_follow_the_view() -> None:
    x0, x1, y, label = [0.0, 0.5, 0.5], [0.5, 1.0, 0.501], [0.5, 0.5, 1.5], ["left", "right", "tiny"]
    full = fit_labels(x0, x1, y, label, view=(0.0, 1.0), width_px=1000)
    assert full.text == ["left", "right"]
    zoomed = fit_labels(x0, x1, y, label, view=(0.5, 0.502), width_px=1000)
    assert zoomed.text == ["right", "tiny"]
    # A bar cut by the view's left edge is labelled from the edge, so the label stays visible.
    assert zoomed.x == [0.5, 0.5]
