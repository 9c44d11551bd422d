"""The compare report: the differential flame view-model, the page, the notebook bundle and the text form."""

from __future__ import annotations

import re

import pytest

from workbench.analysis.diff import compare
from workbench.model import Frame, Recording, Run, Span, StackSample
from workbench.render.diff_flame import GREY, UNCHANGED, DiffFlameView, delta_color
from workbench.render.diff_report import compare_html, diff_bundle, diff_text, fmt

MS = 1_000_000
CELL = Frame("<module>", "/tmp/ipykernel_1/1.py", 1)
F, G, H, K = (Frame(name, "/u/app.py", 1) for name in "fghk")


def _run(name: str, stacks: list[tuple[list[Frame], int]]) -> Run:
    rec = Recording(threads={1: "MainThread"})
    t = 0
    for frames, ms in stacks:
        rec.add_sample(StackSample(t, 1, rec.intern_stack(frames), ms * MS))
        t += ms * MS
    rec.add_span(Span(1, name, "cell", 0, t))
    return Run(
        id=f"20250101-000000-{name}",
        name=name,
        created="2025-01-01T00:00:00",
        duration_ns=t,
        origin_wall_s=0.0,
        options={"main_thread_id": 1},
        recording=rec,
        metrics={"wall_s": t / 1e9, "tokens": {"ttft_ms": {"p50": 100.0, "p90": 120.0, "p99": 130.0}}},
    )


def _pair() -> tuple[Run, Run]:
    a = _run("baseline-run", [([CELL, F], 50), ([CELL, G], 30), ([CELL, H], 20)])
    b = _run("candidate-run", [([CELL, F], 80), ([CELL, G], 30), ([CELL, K], 10)])
    return a, b


def test_view_widths_are_mean_shares_and_colours_follow_the_change() -> None:
    view = DiffFlameView.from_tree(compare(*_pair()).flame)
    rects = {r.function: r for r in view.rects}
    assert rects["cell"].x0 == 0.0 and rects["cell"].x1 == pytest.approx(1.0)
    f, g, h, k = rects["f"], rects["g"], rects["h"], rects["k"]
    assert (f.share_a, f.share_b) == pytest.approx((0.5, 80 / 120))
    assert f.x1 - f.x0 == pytest.approx((0.5 + 80 / 120) / 2)
    assert (
        f.color.startswith("#") and f.color not in (GREY,) and int(f.color[1:3], 16) > int(f.color[5:7], 16)
    )
    assert int(g.color[5:7], 16) > int(g.color[1:3], 16)  # 30% -> 25%: blue
    assert (h.only_in, h.hatch, k.only_in, k.hatch) == ("a", "x", "b", "/")
    assert "only in A" in h.label and "only in B" in k.label
    assert rects["<module>"].color == GREY and rects["<module>"].hatch == " "
    # Children sit inside their parent.
    module = rects["<module>"]
    assert all(module.x0 - 1e-9 <= r.x0 and r.x1 <= module.x1 + 1e-9 for r in (f, g, h, k))


def test_delta_color() -> None:
    assert delta_color(UNCHANGED / 2, 0.5) == GREY
    assert delta_color(0.5, 0.5) == "#c62828" and delta_color(-0.5, 0.5) == "#1f5fa8"
    light, dark = delta_color(0.05, 0.5), delta_color(0.4, 0.5)
    assert int(light[3:5], 16) > int(dark[3:5], 16)  # a bigger change is a deeper red


def test_html_is_standalone_and_names_both_runs() -> None:
    page = compare_html(*_pair())
    assert "<title>FM Workbench — compare baseline-run vs candidate-run</title>" in page
    assert "baseline-run" in page and "candidate-run" in page
    # BokehJS inline, nothing loaded from elsewhere.
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']?(https?:)?//", page)
    assert "Bokeh" in page and len(page) > 500_000
    for name in ("diff_header", "diff_metrics", "diff_flame", "diff_functions", "diff_spans"):
        assert f'"name":"{name}"' in page or f'"name": "{name}"' in page, name
    assert "ttft_ms.p90" in page


def test_page_without_samples_says_so() -> None:
    a, b = _run("a", []), _run("b", [])
    page = compare_html(a, b)
    assert "neither run recorded CPU samples" in page


def test_bundle_and_text() -> None:
    diff = compare(*_pair())
    bundle = diff_bundle(diff)
    assert bundle["text/html"].startswith('<div class="fm-workbench-compare"><iframe srcdoc="')
    text = bundle["text/plain"]
    assert text == diff_text(diff)
    assert "A: baseline-run" in text and "B: candidate-run" in text
    lines = text.splitlines()
    f_line = next(line for line in lines if line.startswith("f "))
    assert "+16.67" in f_line  # self share 50% -> 66.67%
    k_line = next(line for line in lines if line.startswith("k "))
    assert k_line.rstrip().endswith("b")
    assert any(line.startswith("ttft_ms.p50") and line.rstrip().endswith("same") for line in lines)


@pytest.mark.parametrize(
    ("value", "signed", "text"),
    [(None, False, "–"), (float("nan"), True, "–"), (1234.5, False, "1,234"), (12.345, True, "+12.35"),
     (0.01234, False, "0.0123"), (3.0, True, "+3"), (0, True, "+0")],
)  # fmt: skip
def test_fmt(value: float | None, signed: bool, text: str) -> None:
    assert fmt(value, signed) == text
