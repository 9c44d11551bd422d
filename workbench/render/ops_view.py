"""The op timeline's view-model: torch.profiler ops by thread and nesting depth, GPU work by stream,
reduced to a few precomputed resolutions.

A saved page cannot ask Python for detail when the user zooms, so each resolution ("level") is embedded:
level k merges what a pixel of an 8**k-times zoom cannot separate. Finer levels are kept only while the
page stays a sensible size; the finest one kept is what a saved page can show.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from workbench.model.ops import CATEGORIES, CATEGORY_CODE, GPU_WORK, NO_DETAIL, OpTable
from workbench.model.run import Run
from workbench.render.lod import Blocks, nest, reduce_events
from workbench.render.ops_links import NONE, LaunchLinks, launch_links
from workbench.render.ops_palette import ops_category_color

NS_PER_MS = 1e6
DEPTH_CAP = 6
LEVEL_ZOOM = 8
MAX_LEVELS = 3
# About 130 bytes a block in the saved page: 30k blocks keep the op timeline near 4 MB, inside the
# notebook-output budget of an hour-long cell (5 MB).
BLOCK_CAP = 30_000
LANE_GAP = 0.1
# With python stacks on, each op sits under dozens of Python frames: they would fill every shown depth.
HIDDEN_ON_THREADS = ("python_function",)
LINK_PREFIXES = ("launcher", "runtime")

Columns = dict[str, npt.NDArray[np.generic]]


@dataclass(frozen=True)
class OpsRow:
    label: str
    kind: str  # "thread" or "stream"
    lane: int
    depth: int


@dataclass(frozen=True)
class OpsLevel:
    pixel_ns: float
    columns: Columns

    def __len__(self) -> int:
        return int(self.columns["x0"].size)


@dataclass(frozen=True)
class OpsCounts:
    cpu_ops: int = 0
    kernels: int = 0
    streams: int = 0
    deeper_than_cap: int = 0  # host ops nested deeper than the shown depths
    python_functions: int = 0
    dropped: int = 0


@dataclass(frozen=True)
class OpsTimelineView:
    rows: tuple[OpsRow, ...] = ()
    levels: tuple[OpsLevel, ...] = ()
    start_ms: float = 0.0
    end_ms: float = 0.0
    counts: OpsCounts = field(default_factory=OpsCounts)
    categories: tuple[str, ...] = ()  # drawn, in CATEGORIES order: the legend
    gpu_note: str = ""
    depth_cap: int = DEPTH_CAP

    @property
    def empty(self) -> bool:
        return not self.levels

    @property
    def finest_us(self) -> float:
        return self.levels[-1].pixel_ns / 1e3 if self.levels else 0.0

    @property
    def blocks(self) -> int:
        return sum(len(level) for level in self.levels)

    @classmethod
    def from_run(
        cls, run: Run, width_px: int = 1200, depth_cap: int = DEPTH_CAP, block_cap: int = BLOCK_CAP
    ) -> OpsTimelineView:
        table = run.recording.ops
        if table is None or len(table) == 0:
            return cls(gpu_note="" if table is None else table.gpu_note, depth_cap=depth_cap)
        placed = _place(table, depth_cap)
        start_ms, end_ms = _window_ms(run, table)
        visible_ns = (end_ms - start_ms) * NS_PER_MS
        drawn = np.flatnonzero(placed.row >= 0)
        drawn = drawn[np.lexsort((table.start_ns[drawn], placed.row[drawn]))]
        levels = _levels(table, placed, drawn, visible_ns / max(width_px, 1), block_cap)
        return cls(
            rows=placed.rows,
            levels=levels,
            start_ms=start_ms,
            end_ms=end_ms,
            counts=_counts(table, placed),
            categories=tuple(c for c in CATEGORIES if (table.category[drawn] == CATEGORY_CODE[c]).any()),
            gpu_note=table.gpu_note,
            depth_cap=depth_cap,
        )


@dataclass(frozen=True)
class _Placement:
    """Where each event is drawn: `row` (-1: not drawn) and `link_row` (the row a highlight box uses)."""

    rows: tuple[OpsRow, ...]
    row: npt.NDArray[np.int64]
    link_row: npt.NDArray[np.int64]
    links: LaunchLinks
    deeper: int


def _place(table: OpTable, depth_cap: int) -> _Placement:
    n = len(table)
    on_stream_lane = np.array([lane.kind == "stream" for lane in table.lanes], dtype=bool)
    on_stream = on_stream_lane[table.lane_id] if n else np.zeros(0, bool)
    on_thread = ~on_stream & ~table.mask(HIDDEN_ON_THREADS)
    shown_on_stream = on_stream & table.mask(GPU_WORK)
    depth = np.zeros(n, np.int64)
    parent = np.full(n, NONE, np.int64)
    for events in _by_lane(table, on_thread):
        nesting = nest(table.start_ns[events], table.end_ns[events])
        depth[events] = nesting.depth
        parent[events] = np.where(nesting.parent >= 0, events[np.maximum(nesting.parent, 0)], NONE)
    rows: list[OpsRow] = []
    base = np.full(len(table.lanes), -1, np.int64)
    for lane in _thread_lanes(table, on_thread):
        base[lane] = len(rows)
        deepest = min(int(depth[on_thread & (table.lane_id == lane)].max()), depth_cap - 1)
        label = table.lanes[lane].label
        rows += [OpsRow(label if d == 0 else f"{label} · {d}", "thread", lane, d) for d in range(deepest + 1)]
    for lane in _stream_lanes(table, shown_on_stream):
        base[lane] = len(rows)
        rows.append(OpsRow(table.lanes[lane].label, "stream", lane, 0))
    lane_base = base[table.lane_id]
    row = np.full(n, -1, np.int64)
    visible = on_thread & (depth < depth_cap)
    row[visible] = lane_base[visible] + depth[visible]
    row[shown_on_stream] = lane_base[shown_on_stream]
    # An op deeper than the shown rows is outlined on the deepest one, at its own time.
    link_row = np.where(on_thread, lane_base + np.minimum(depth, depth_cap - 1), row)
    return _Placement(
        rows=tuple(rows),
        row=row,
        link_row=link_row,
        links=launch_links(table, parent, on_thread),
        deeper=int((on_thread & (depth >= depth_cap)).sum()),
    )


def _by_lane(table: OpTable, mask: npt.NDArray[np.bool_]) -> list[npt.NDArray[np.int64]]:
    events = np.flatnonzero(mask)
    events = events[np.argsort(table.lane_id[events], kind="stable")]
    cuts = np.flatnonzero(np.diff(table.lane_id[events])) + 1
    return [part.astype(np.int64) for part in np.split(events, cuts) if part.size]


def _thread_lanes(table: OpTable, mask: npt.NDArray[np.bool_]) -> list[int]:
    return [int(lane) for lane in np.unique(table.lane_id[mask])]


def _stream_lanes(table: OpTable, mask: npt.NDArray[np.bool_]) -> list[int]:
    lanes = [int(lane) for lane in np.unique(table.lane_id[mask])]
    return sorted(lanes, key=lambda lane: (table.lanes[lane].device, table.lanes[lane].ident))


def _window_ms(run: Run, table: OpTable) -> tuple[float, float]:
    """The window the dashboard opens on (see `run_clock_range`): from the cell's start to the run's end."""
    cell_start = run.metrics.get("cell_start_ms")
    end_ns = max(run.last_event_ns, int(table.end_ns.max()))
    start_ms = float(cell_start) * 0.98 if isinstance(cell_start, int | float) else 0.0
    end_ms = end_ns / NS_PER_MS
    if end_ms <= start_ms:
        start_ms = int(table.start_ns.min()) / NS_PER_MS
    return start_ms, max(end_ms, start_ms + 1e-3)


def _levels(
    table: OpTable, placed: _Placement, drawn: npt.NDArray[np.int64], pixel_ns: float, block_cap: int
) -> tuple[OpsLevel, ...]:
    levels: list[OpsLevel] = []
    total = 0
    for k in range(MAX_LEVELS):
        level_pixel = pixel_ns / LEVEL_ZOOM**k
        blocks = reduce_events(table.start_ns[drawn], table.end_ns[drawn], level_pixel, placed.row[drawn])
        if levels and total + len(blocks) > block_cap:
            break
        levels.append(OpsLevel(level_pixel, _columns(table, placed, drawn, blocks)))
        total += len(blocks)
        if len(blocks) == drawn.size:
            break  # nothing left to merge: a finer level would be the same
    return tuple(levels)


def _columns(table: OpTable, placed: _Placement, drawn: npt.NDArray[np.int64], blocks: Blocks) -> Columns:
    event = drawn[blocks.first]
    names = np.array(table.names, dtype=object)[table.name_id[event]]
    merged = np.flatnonzero(blocks.count > 1)
    names[merged] = [
        f"{name} + {more} more" for name, more in zip(names[merged], blocks.count[merged] - 1, strict=True)
    ]
    category = np.array(CATEGORIES, dtype=object)[table.category[event]]
    details = np.array([*table.details, ""], dtype=object)
    detail_id = np.where(table.detail_id[event] == NO_DETAIL, len(table.details), table.detail_id[event])
    lanes = np.array([lane.label for lane in table.lanes], dtype=object)
    columns: Columns = {
        "x0": blocks.start_ns / NS_PER_MS,
        "x1": blocks.end_ns / NS_PER_MS,
        "top": (blocks.row + LANE_GAP).astype(np.float32),
        "bottom": (blocks.row + 1 - LANE_GAP).astype(np.float32),
        "name": names,
        "category": category,
        "color": np.array([ops_category_color(c) for c in CATEGORIES], dtype=object)[table.category[event]],
        "lane": lanes[table.lane_id[event]],
        "count": blocks.count.astype(np.int32),
        "busy_ms": (blocks.busy_ns / NS_PER_MS).astype(np.float32),
        "duration_ms": ((blocks.end_ns - blocks.start_ns) / NS_PER_MS).astype(np.float32),
        "detail": details[detail_id],
    }
    runtime = placed.links.runtime[event]
    launcher = np.where(runtime != NONE, placed.links.launcher[np.maximum(runtime, 0)], NONE)
    for prefix, linked in zip(LINK_PREFIXES, (launcher, runtime), strict=True):
        columns.update(_link_columns(table, placed, prefix, linked))
    return columns


def _link_columns(table: OpTable, placed: _Placement, prefix: str, linked: npt.NDArray[np.int64]) -> Columns:
    """Where the linked event is drawn, NaN when there is none: the page draws it without a lookup."""
    some = linked != NONE
    at = np.maximum(linked, 0)

    def where(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.where(some, values, np.nan)

    row = placed.link_row[at].astype(np.float64)
    return {
        f"{prefix}_x0": where(table.start_ns[at] / NS_PER_MS),
        f"{prefix}_x1": where(table.end_ns[at] / NS_PER_MS),
        f"{prefix}_top": where(row + LANE_GAP),
        f"{prefix}_bottom": where(row + 1 - LANE_GAP),
    }


def _counts(table: OpTable, placed: _Placement) -> OpsCounts:
    streams = {row.lane for row in placed.rows if row.kind == "stream"}
    return OpsCounts(
        cpu_ops=int(table.mask(("cpu_op",)).sum()),
        kernels=int(table.mask(("kernel",)).sum()),
        streams=len(streams),
        deeper_than_cap=placed.deeper,
        python_functions=int(table.mask(HIDDEN_ON_THREADS).sum()),
        dropped=table.dropped,
    )
