"""Text labels that fit inside horizontal bars at the current zoom.

`fit_labels` and `FIT_LABELS_JS` implement the same rule: Python gives the labels of the first paint, the
browser recomputes them whenever the x range or the plot's width changes, with no kernel attached.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

CHAR_PX = 7.0
PAD_PX = 6.0
MIN_CHARS = 3
ASSUMED_WIDTH_PX = 1000.0


@dataclass(frozen=True)
class Labels:
    x: list[float]
    y: list[float]
    text: list[str]

    def columns(self) -> dict[str, list[float] | list[str]]:
        return {"x": self.x, "y": self.y, "text": self.text}


def fit_label(label: str, width_px: float) -> str | None:
    chars = int((width_px - PAD_PX) // CHAR_PX)
    if chars < MIN_CHARS:
        return None
    return label if len(label) <= chars else label[: chars - 1] + "…"


def fit_labels(
    x0: Sequence[float],
    x1: Sequence[float],
    y: Sequence[float],
    label: Sequence[str],
    view: tuple[float, float],
    width_px: float = ASSUMED_WIDTH_PX,
) -> Labels:
    start, end = view
    scale = width_px / (end - start) if end > start else 0.0
    out = Labels([], [], [])
    for a, b, row, text in zip(x0, x1, y, label, strict=True):
        left, right = max(a, start), min(b, end)
        fitted = fit_label(text, (right - left) * scale) if right > left else None
        if fitted is not None:
            out.x.append(left)
            out.y.append(row)
            out.text.append(fitted)
    return out


# Same rule as fit_labels(); `bars` has columns x0, x1, y, label; `labels` gets x, y, text.
FIT_LABELS_JS = f"""
const d = bars.data;
const start = x_range.start, end = x_range.end;
const width = plot.inner_width > 0 ? plot.inner_width : {ASSUMED_WIDTH_PX};
const scale = end > start ? width / (end - start) : 0;
const xs = [], ys = [], texts = [];
for (let i = 0; i < d.x0.length; i++) {{
  const left = Math.max(d.x0[i], start), right = Math.min(d.x1[i], end);
  if (right <= left) continue;
  const chars = Math.floor(((right - left) * scale - {PAD_PX}) / {CHAR_PX});
  if (chars < {MIN_CHARS}) continue;
  const text = String(d.label[i]);
  xs.push(left);
  ys.push(d.y[i]);
  texts.push(text.length <= chars ? text : text.slice(0, chars - 1) + "\\u2026");
}}
labels.data = {{x: xs, y: ys, text: texts}};
"""
