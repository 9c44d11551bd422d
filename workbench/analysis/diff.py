"""Run comparison: metric deltas with a direction, per-function / per-span / per-kernel deltas, and a
differential flame tree (both runs' flame trees merged by call path).

Shares are of each run's own sampled time, so runs of different length compare by where time went. A
notebook cell's source file differs from cell to cell (`ipykernel_<pid>/<hash>.py`); such files are
matched as one file, "<cell>", so the same code in two cells lines up.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workbench.analysis.cpu import FlameNode, flame_tree
from workbench.analysis.ranks import rank_pair
from workbench.analysis.repeat import add_significance
from workbench.analysis.stacks import is_cell_file
from workbench.model.run import Run

# |delta_pct| below this (in percent) reads "same".
SAME_THRESHOLD_PCT = 1.0
CELL_FILE = "<cell>"
PERCENTILES = ("p50", "p90", "p99")
LATENCIES = ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms")
METRIC_COLUMNS = ["metric", "a", "b", "delta", "delta_pct", "direction"]
FUNCTION_COLUMNS = [
    "function", "file", "self_pct_a", "self_pct_b", "delta", "total_pct_a", "total_pct_b", "total_delta",
    "self_ms_a", "self_ms_b", "only_in",
]  # fmt: skip
SPAN_COLUMNS = [
    "name", "kind", "count_a", "count_b", "total_ms_a", "total_ms_b", "delta_ms", "delta_pct", "only_in",
]  # fmt: skip
KERNEL_COLUMNS = [
    "name",
    "count_a",
    "count_b",
    "total_ms_a",
    "total_ms_b",
    "delta_ms",
    "delta_pct",
    "only_in",
]


@dataclass
class DiffNode:
    """One call path in either run. Shares are fractions of each run's sampled time (root = 1)."""

    function: str
    file: str
    line: int
    total_a_ns: int = 0
    total_b_ns: int = 0
    self_a_ns: int = 0
    self_b_ns: int = 0
    share_a: float = 0.0
    share_b: float = 0.0
    children: dict[tuple[str, str], DiffNode] = field(default_factory=dict)

    @property
    def delta(self) -> float:
        """Change in share, b − a (a fraction of sampled time; +0.2 = 20 points more of b's time)."""
        return self.share_b - self.share_a

    @property
    def only_in(self) -> str | None:
        if self.total_a_ns and not self.total_b_ns:
            return "a"
        if self.total_b_ns and not self.total_a_ns:
            return "b"
        return None

    def sorted_children(self) -> list[DiffNode]:
        return sorted(self.children.values(), key=lambda n: -(n.share_a + n.share_b))

    def walk(self) -> Iterator[DiffNode]:
        pending = [self]
        while pending:
            node = pending.pop()
            yield node
            pending.extend(node.children.values())


@dataclass
class RunDiff:
    a: Run
    b: Run
    metrics: pd.DataFrame
    functions: pd.DataFrame
    spans: pd.DataFrame
    kernels: pd.DataFrame
    flame: DiffNode
    # "rank 0 vs rank 1" when A and B are two ranks of one job: they differ, neither is better.
    peers: str | None = None

    def metric(self, name: str) -> dict[str, Any]:
        """One row of `metrics` as a dict (KeyError when the metric is not compared)."""
        rows = self.metrics[self.metrics["metric"] == name]
        if rows.empty:
            raise KeyError(name)
        return dict(rows.iloc[0])


def compare(a: Run, b: Run) -> RunDiff:
    """What changed from run `a` (the baseline) to run `b`. When both runs are repeated (`--repeat`), the
    metric table also says whether wall time and tokens/s differ beyond noise (see `analysis.repeat`)."""
    pair = rank_pair(a, b)
    metrics = add_significance(metric_deltas(a, b), a, b)
    if pair is not None:
        neutral = {"better": "changed", "worse": "changed"}
        metrics["direction"] = metrics["direction"].map(lambda d: neutral.get(d, d))
    return RunDiff(
        a=a,
        b=b,
        metrics=metrics,
        functions=function_deltas(a, b),
        spans=span_deltas(a, b),
        kernels=kernel_deltas(a, b),
        flame=diff_tree(_tree(a), _tree(b)),
        peers=None if pair is None else f"rank {pair[0]} vs rank {pair[1]}",
    )


# --- metrics ---------------------------------------------------------------------------------------


def run_metrics(run: Run) -> dict[str, tuple[float | None, bool | None]]:
    """metric name -> (value, higher_is_better); None for a metric that is neither better nor worse."""
    m = run.metrics
    tokens = m.get("tokens") or {}
    cpu = m.get("cpu") or {}
    out: dict[str, tuple[float | None, bool | None]] = {
        "wall_s": (run.wall_s, False),
        "cpu.samples": (_num(cpu.get("samples")), False),
        "cpu.sampled_ms": (_num(cpu.get("sampled_ms")), False),
        "output_tokens": (_num(tokens.get("output_tokens")), None),
        "output_tokens_per_s": (_num(tokens.get("output_tokens_per_s")), True),
        "request_throughput_per_s": (_num(tokens.get("request_throughput_per_s")), True),
    }
    for latency in LATENCIES:
        stats = tokens.get(latency) or {}
        for p in PERCENTILES:
            out[f"{latency}.{p}"] = (_num(stats.get(p)), False)
    goodput = tokens.get("goodput") or {}
    if goodput.get("share") is not None:
        out["goodput.share"] = (_num(goodput.get("share")), True)
    per_kind = (m.get("stages") or {}).get("per_kind") or {}
    for kind, values in sorted(per_kind.items()):
        out[f"stage.{kind}.wall_ms"] = (_num(values.get("wall_ms")), False)
        out[f"stage.{kind}.critical_ms"] = (_num(values.get("critical_ms")), False)
    gpu = m.get("gpu") or {}
    busy = gpu.get("busy_share")
    if busy is None and gpu.get("busy_pct") is not None:
        busy = _num(gpu.get("busy_pct")) / 100.0  # type: ignore[operator]
    if busy is not None:
        out["gpu.busy_share"] = (_num(busy), True)
    return out


def metric_deltas(a: Run, b: Run) -> pd.DataFrame:
    ma, mb = run_metrics(a), run_metrics(b)
    names = list(ma) + [name for name in mb if name not in ma]
    rows = []
    for name in names:
        if name == "goodput.share" and (name not in ma or name not in mb):
            continue  # goodput compares only when both runs had an SLO
        va, higher = ma.get(name, (None, None))
        vb, higher_b = mb.get(name, (None, higher))
        if va is None and vb is None:
            continue  # e.g. token latencies of two runs without LLM requests
        rows.append(_delta_row(name, va, vb, higher if higher is not None else higher_b))
    frame = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    # None (not NaN) where a run lacks the metric.
    frame["direction"] = frame["direction"].astype(object).where(frame["direction"].notna(), None)
    return frame


def _delta_row(name: str, a: float | None, b: float | None, higher_is_better: bool | None) -> dict[str, Any]:
    if a is None or b is None:
        return {"metric": name, "a": _nan(a), "b": _nan(b), "delta": math.nan, "delta_pct": math.nan,
                "direction": None}  # fmt: skip
    delta = b - a
    pct = 100.0 * delta / abs(a) if a else (0.0 if not delta else math.nan)
    return {"metric": name, "a": a, "b": b, "delta": delta, "delta_pct": pct,
            "direction": direction(delta, pct, higher_is_better)}  # fmt: skip


def direction(delta: float, delta_pct: float, higher_is_better: bool | None) -> str:
    """Returns "same" under SAME_THRESHOLD_PCT; else "better"/"worse", or "changed" for a neutral metric."""
    small = abs(delta_pct) < SAME_THRESHOLD_PCT if not math.isnan(delta_pct) else delta == 0
    if small:
        return "same"
    if higher_is_better is None:
        return "changed"
    return "better" if (delta > 0) == higher_is_better else "worse"


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) else float(value)


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


# --- functions ---------------------------------------------------------------------------------------


def function_times(run: Run) -> tuple[dict[tuple[str, str], list[int]], int]:
    """(function, file) -> [self_ns, total_ns] over non-idle samples, and the sampled ns."""
    rec = run.recording
    times: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    sampled = 0
    for sample in rec.samples:
        frames = rec.stack_frames(sample.stack_id)
        if not frames:
            continue
        sampled += sample.duration_ns
        leaf = frames[-1]
        times[(leaf.function, _file(leaf.file))][0] += sample.duration_ns
        seen = set()
        for frame in frames:
            key = (frame.function, _file(frame.file))
            if key not in seen:
                seen.add(key)
                times[key][1] += sample.duration_ns
    return dict(times), sampled


def function_deltas(a: Run, b: Run) -> pd.DataFrame:
    ta, sa = function_times(a)
    tb, sb = function_times(b)
    rows = []
    for key in list(ta) + [k for k in tb if k not in ta]:
        ea, eb = ta.get(key), tb.get(key)
        self_a, self_b = _pct(ea, 0, sa), _pct(eb, 0, sb)
        total_a, total_b = _pct(ea, 1, sa), _pct(eb, 1, sb)
        rows.append({
            "function": key[0], "file": key[1],
            "self_pct_a": self_a, "self_pct_b": self_b, "delta": self_b - self_a,
            "total_pct_a": total_a, "total_pct_b": total_b, "total_delta": total_b - total_a,
            "self_ms_a": ea[0] / 1e6 if ea else math.nan, "self_ms_b": eb[0] / 1e6 if eb else math.nan,
            "only_in": None if (ea and eb) else ("a" if ea else "b"),
        })  # fmt: skip
    return _sorted_by_abs(pd.DataFrame(rows, columns=FUNCTION_COLUMNS), "delta", "total_delta")


def _pct(entry: list[int] | None, index: int, sampled: int) -> float:
    if not sampled:
        return math.nan
    return 100.0 * (entry[index] if entry else 0) / sampled


def _sorted_by_abs(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    if frame.empty:
        return frame
    keys = [f"_abs_{c}" for c in columns]
    for key, column in zip(keys, columns, strict=True):
        frame[key] = frame[column].abs().fillna(0.0)
    return frame.sort_values(keys, ascending=False, kind="stable").drop(columns=keys).reset_index(drop=True)


def _file(path: str) -> str:
    return CELL_FILE if is_cell_file(path) else path


# --- spans and kernels -------------------------------------------------------------------------------


def _span_totals(run: Run, kinds: set[str] | None, exclude: set[str]) -> dict[tuple[str, str], list[float]]:
    totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for span in run.recording.spans:
        if span.kind in exclude or (kinds is not None and span.kind not in kinds):
            continue
        # The run's own span is named after the run: match it across runs as "(cell)".
        name = "(cell)" if span.kind == "cell" else span.name
        entry = totals[(name, span.kind)]
        entry[0] += 1
        entry[1] += span.duration_ns / 1e6
    return dict(totals)


def _total_rows(
    ta: dict[Any, list[float]], tb: dict[Any, list[float]], key_names: list[str]
) -> list[dict[str, Any]]:
    rows = []
    for key in list(ta) + [k for k in tb if k not in ta]:
        ea, eb = ta.get(key), tb.get(key)
        ms_a, ms_b = (ea[1] if ea else 0.0), (eb[1] if eb else 0.0)
        delta = ms_b - ms_a
        keys = key if isinstance(key, tuple) else (key,)
        rows.append({
            **dict(zip(key_names, keys, strict=True)),
            "count_a": int(ea[0]) if ea else 0, "count_b": int(eb[0]) if eb else 0,
            "total_ms_a": ms_a, "total_ms_b": ms_b, "delta_ms": delta,
            "delta_pct": 100.0 * delta / ms_a if ms_a else math.nan,
            "only_in": None if (ea and eb) else ("a" if ea else "b"),
        })  # fmt: skip
    return rows


def span_deltas(a: Run, b: Run) -> pd.DataFrame:
    exclude = {"kernel"}
    rows = _total_rows(_span_totals(a, None, exclude), _span_totals(b, None, exclude), ["name", "kind"])
    return _sorted_by_abs(pd.DataFrame(rows, columns=SPAN_COLUMNS), "delta_ms")


def _kernel_totals(run: Run) -> dict[str, list[float]]:
    totals = {name: entry for (name, _), entry in _span_totals(run, {"kernel"}, set()).items()}
    if totals:
        return totals
    table = (run.metrics.get("gpu") or {}).get("top_kernels") or []
    for row in table:
        if isinstance(row, dict) and row.get("name") is not None:
            total = _num(row.get("total_ms")) or 0.0
            totals[str(row["name"])] = [float(_num(row.get("count")) or 0), total]
    return totals


def kernel_deltas(a: Run, b: Run) -> pd.DataFrame:
    rows = _total_rows(_kernel_totals(a), _kernel_totals(b), ["name"])
    return _sorted_by_abs(pd.DataFrame(rows, columns=KERNEL_COLUMNS), "delta_ms")


# --- the differential flame tree ---------------------------------------------------------------------


def _tree(run: Run) -> FlameNode:
    return flame_tree(run.recording, main_thread_id=run.options.get("main_thread_id"), root_name="cell")


def diff_tree(a: FlameNode, b: FlameNode) -> DiffNode:
    """Both trees merged by call path from the root; shares are of each tree's root (its sampled time)."""
    root = DiffNode(a.function, a.file, a.line)
    pending: list[tuple[DiffNode, FlameNode | None, FlameNode | None]] = [(root, a, b)]
    while pending:
        node, na, nb = pending.pop()
        if na is not None:
            node.total_a_ns, node.self_a_ns = na.total_ns, na.self_ns
            node.share_a = na.total_ns / a.total_ns if a.total_ns else 0.0
        if nb is not None:
            node.total_b_ns, node.self_b_ns = nb.total_ns, nb.self_ns
            node.share_b = nb.total_ns / b.total_ns if b.total_ns else 0.0
        ca = _children_by_key(na)
        cb = _children_by_key(nb)
        for key in list(ca) + [k for k in cb if k not in ca]:
            first = ca.get(key) or cb[key]
            child = node.children[key] = DiffNode(first.function, first.file, first.line)
            pending.append((child, ca.get(key), cb.get(key)))
    return root


def _children_by_key(node: FlameNode | None) -> dict[tuple[str, str], FlameNode]:
    if node is None:
        return {}
    return {(child.function, _file(child.file)): child for child in node.children.values()}
