"""Hand-built and generated op tables (torch.profiler's columns) for the op timeline tests."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workbench.model import Recording, Run
from workbench.model.ops import CATEGORY_CODE, NO_CORRELATION, NO_DETAIL, OpLane, OpTable

from .synthetic import bare_run

US = 1_000


@dataclass
class OpsBuilder:
    """Adds events one at a time; every time is chosen by the test, in ns."""

    lanes: list[OpLane] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    rows: list[tuple[int, int, int, int, int, int, int]] = field(default_factory=list)

    def thread(self, label: str = "MainThread", ident: int = 1) -> int:
        self.lanes.append(OpLane("thread", -1, ident, label))
        return len(self.lanes) - 1

    def stream(self, label: str = "stream 7", ident: int = 7, device: int = 0) -> int:
        self.lanes.append(OpLane("stream", device, ident, label))
        return len(self.lanes) - 1

    def op(
        self,
        lane: int,
        name: str,
        start: int,
        end: int,
        category: str = "cpu_op",
        correlation: int = NO_CORRELATION,
        detail: str = "",
    ) -> int:
        name_id = _intern(self.names, name)
        detail_id = _intern(self.details, detail) if detail else NO_DETAIL
        self.rows.append((start, end, CATEGORY_CODE[category], name_id, lane, correlation, detail_id))
        return len(self.rows) - 1

    def table(self, gpu_note: str = "") -> OpTable:
        cols = list(zip(*self.rows, strict=True)) if self.rows else [()] * 7
        return OpTable(
            start_ns=np.array(cols[0], np.int64),
            end_ns=np.array(cols[1], np.int64),
            category=np.array(cols[2], np.uint8),
            name_id=np.array(cols[3], np.int32),
            lane_id=np.array(cols[4], np.int32),
            correlation=np.array(cols[5], np.int64),
            detail_id=np.array(cols[6], np.int32),
            names=list(self.names),
            lanes=list(self.lanes),
            details=list(self.details),
            gpu_note=gpu_note,
        )


def _intern(table: list[str], value: str) -> int:
    if value not in table:
        table.append(value)
    return table.index(value)


def ops_run(table: OpTable | None, duration_ns: int | None = None) -> Run:
    end = int(table.end_ns.max()) if table is not None and len(table) else 1_000_000
    run = bare_run(Recording(), duration_ms=(duration_ns or end) / 1e6)
    run.recording.ops = table
    return run


def large_table(groups: int, seed: int = 0) -> OpTable:
    """`groups` steps of aten::linear ⊃ aten::addmm ⊃ cudaGraphLaunch, the launch queueing three kernels
    (two on stream 7, one on stream 8): half the events are kernels. Every 1000th step is followed by a
    5 ms pause, so reduced views have gaps to keep."""
    rng = np.random.default_rng(seed)
    step = 30 * US + rng.integers(0, 20 * US, groups)
    step[999::1000] += 5_000 * US
    t = np.concatenate(([0], np.cumsum(step)[:-1])).astype(np.int64)
    k1 = rng.integers(2 * US, 9 * US, groups)
    k2 = rng.integers(2 * US, 9 * US, groups)
    k3 = rng.integers(2 * US, 15 * US, groups)
    correlation = np.arange(1, groups + 1, dtype=np.int64)
    host = [(t, t + 12 * US, 0), (t + 1 * US, t + 11 * US, 1), (t + 3 * US, t + 8 * US, 2)]
    gpu = [
        (t + 10 * US, t + 10 * US + k1),
        (t + 10 * US + k1, t + 10 * US + k1 + k2),
        (t + 12 * US, t + 12 * US + k3),
    ]
    start = np.concatenate([h[0] for h in host] + [g[0] for g in gpu])
    end = np.concatenate([h[1] for h in host] + [g[1] for g in gpu])
    zeros = np.zeros(groups, np.int64)
    category = np.concatenate(
        [zeros + CATEGORY_CODE[c] for c in ("cpu_op", "cpu_op", "cuda_runtime", "kernel", "kernel", "kernel")]
    )
    name_id = np.concatenate([zeros + i for i in range(6)])
    lane_id = np.concatenate([zeros, zeros, zeros, zeros + 1, zeros + 1, zeros + 2])
    detail_id = np.concatenate([zeros + 0, zeros + 0, zeros + NO_DETAIL, zeros + 1, zeros + 1, zeros + 2])
    return OpTable(
        start_ns=start,
        end_ns=end,
        category=category.astype(np.uint8),
        name_id=name_id.astype(np.int32),
        lane_id=lane_id.astype(np.int32),
        correlation=np.concatenate([zeros, zeros, correlation, correlation, correlation, correlation]),
        detail_id=detail_id.astype(np.int32),
        names=[
            "aten::linear",
            "aten::addmm",
            "cudaGraphLaunch",
            "ampere_sgemm_128x64",
            "void relu<float>",
            "gemv",
        ],
        lanes=[
            OpLane("thread", -1, 1, "MainThread"),
            OpLane("stream", 0, 7, "cuda:0 stream 7"),
            OpLane("stream", 0, 8, "cuda:0 stream 8"),
        ],
        details=[
            "[[64, 512], [512, 512]]",
            "grid [128, 1, 1] block [256, 1, 1]",
            "grid [4, 1, 1] block [64, 1, 1]",
        ],
    )


def bursty_table(groups: int = 3_000, every: int = 10, seed: int = 0) -> OpTable:
    """`large_table` with a 2 ms pause after every `every` steps: structure at every zoom level."""
    table = large_table(groups, seed)
    step = np.arange(len(table)) % groups  # large_table lays out its columns one kind of event at a time
    shift = (step // every) * 2_000 * US
    table.start_ns = table.start_ns + shift
    table.end_ns = table.end_ns + shift
    return table
