"""The flame graph's view-model: an icicle of rectangles, root on top, widths as shares of sampled time."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from workbench.analysis.cpu import FlameNode, flame_tree
from workbench.model.run import Run
from workbench.render.palette import package_color, package_of

# Frames narrower than this share of the root are not sent to the browser (level of detail).
DEFAULT_MIN_WIDTH = 0.001
ROOT_NAME = "cell"
N = TypeVar("N")


@dataclass(frozen=True)
class FlameRect:
    x0: float
    x1: float
    depth: int
    function: str
    file: str
    line: int
    self_ms: float
    total_ms: float
    self_pct: float
    total_pct: float
    label: str
    package: str
    color: str

    @property
    def width(self) -> float:
        return self.x1 - self.x0


@dataclass(frozen=True)
class FlameView:
    rects: list[FlameRect]
    total_ms: float
    min_width: float

    @property
    def max_depth(self) -> int:
        return max((r.depth for r in self.rects), default=0)

    @property
    def empty(self) -> bool:
        return not self.rects

    @classmethod
    def from_run(cls, run: Run, min_width: float = DEFAULT_MIN_WIDTH) -> FlameView:
        return cls.from_tree(run_flame_tree(run), min_width)

    @classmethod
    def from_tree(cls, root: FlameNode, min_width: float = DEFAULT_MIN_WIDTH) -> FlameView:
        rects = layout(root, min_width) if root.total_ns > 0 else []
        return cls(rects=rects, total_ms=root.total_ns / 1e6, min_width=min_width)

    def columns(self) -> dict[str, list[Any]]:
        """Column-wise data for a ColumnDataSource, with the row centre `y` the drawing needs."""
        names = [f.name for f in fields(FlameRect)]
        data: dict[str, list[Any]] = {name: [getattr(r, name) for r in self.rects] for name in names}
        data["y"] = [r.depth + 0.5 for r in self.rects]
        return data


def run_flame_tree(run: Run) -> FlameNode:
    """The run's CPU samples as one tree, the cell's thread at the root."""
    main_thread = run.options.get("main_thread_id")
    return flame_tree(run.recording, main_thread_id=main_thread, root_name=ROOT_NAME)


def layout(root: FlameNode, min_width: float) -> list[FlameRect]:
    total = root.total_ns
    return [
        _rect(node, x0, width, depth, total)
        for node, x0, width, depth in icicle(
            root, lambda n: n.total_ns / total, FlameNode.sorted_children, min_width
        )
    ]


def icicle(
    root: N, width_of: Callable[[N], float], children_of: Callable[[N], Iterable[N]], min_width: float
) -> Iterator[tuple[N, float, float, int]]:
    """(node, x0, width, depth) depth-first, children side by side from their parent's left edge.

    Iterative because Python stacks can be deeper than the recursion limit.
    """
    pending: list[tuple[N, float, int]] = [(root, 0.0, 0)]
    while pending:
        node, x0, depth = pending.pop()
        width = width_of(node)
        if width < min_width:
            # Children are never wider than their parent, so the whole subtree is below the threshold.
            continue
        yield node, x0, width, depth
        cursor = x0
        placed = []
        for child in children_of(node):
            placed.append((child, cursor, depth + 1))
            cursor += width_of(child)
        pending.extend(reversed(placed))


def _rect(node: FlameNode, x0: float, width: float, depth: int, total_ns: int) -> FlameRect:
    package = package_of(node.file)
    return FlameRect(
        x0=x0,
        x1=x0 + width,
        depth=depth,
        function=node.function,
        file=node.file,
        line=node.line,
        self_ms=node.self_ns / 1e6,
        total_ms=node.total_ns / 1e6,
        self_pct=100.0 * node.self_ns / total_ns,
        total_pct=100.0 * node.total_ns / total_ns,
        label=_label(node, depth),
        package=package,
        color=package_color(package),
    )


def _label(node: FlameNode, depth: int) -> str:
    if depth == 0:
        return f"{node.function}: {node.total_ns / 1e6:,.0f} ms sampled (click here to zoom out)"
    return node.function
