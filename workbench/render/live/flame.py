"""The live flame graph's data: a flame tree grown by one low-rate stack sample at a time.

py-spy writes its profile only when it stops, so while the cell runs the live view samples the cell's
thread itself a few times a second; the final dashboard shows py-spy's full-rate profile instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from workbench.analysis.cpu import FlameNode
from workbench.model.events import Frame
from workbench.render.flame_view import ROOT_NAME, FlameView

# Coarser than the static graph's level of detail: the whole layout is resent on each change.
LIVE_MIN_WIDTH = 0.005
IDLE = "(idle)"


class LiveFlame:
    def __init__(self, min_width: float = LIVE_MIN_WIDTH) -> None:
        self.root = FlameNode(ROOT_NAME, "", 0)
        self.min_width = min_width
        self.samples = 0

    def add(self, frames: Sequence[Frame], weight_ns: int) -> None:
        """One sample of the cell's stack (root first; empty while the thread is outside the cell's code),
        weighted by the measured time since the previous sample."""
        self.samples += 1
        node = self.root
        node.total_ns += weight_ns
        node.samples += 1
        if not frames:
            node = node.child(IDLE, "", 0)
            node.total_ns += weight_ns
            node.samples += 1
        for frame in frames:
            node = node.child(frame.function, frame.file, frame.line)
            node.total_ns += weight_ns
            node.samples += 1
        node.self_ns += weight_ns

    def view(self) -> FlameView:
        return FlameView.from_tree(self.root, self.min_width)
