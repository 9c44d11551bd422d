"""Collectives matched across ranks: each rank's wait, the skew of each collective, the stragglers.

A collective (all-reduce, all-to-all, ...) ends on no rank before every rank has reached it, so its
communication kernel starts when the rank launches it and then waits for the last rank to arrive. Matched
across ranks, the k-th collective gives, per rank, `wait = last arrival - this rank's arrival`, and a skew
`last arrival - first arrival`. The rank that arrives last most often is the straggler.

Matching: by NCCL's sequence number (`Seq` / `seq_num`, counted per process group) when every rank's
trace numbers its collectives; else by order within each communicator, which NCCL requires to be the
same on every rank: the process group's name where the trace writes it, else the kernel's stream (each
communicator has its own stream). Arrivals are kernel starts on the run clock, so they are only as good
as the alignment of the ranks' clocks (see the run's notes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

TOP_COLLECTIVES = 20
NO_SEQ = -1


class CommColumns(Protocol):
    """One rank's communication kernels (see `importers.ranks.comm_args.CommKernels`)."""

    start_ns: npt.NDArray[np.int64]
    end_ns: npt.NDArray[np.int64]
    stream: npt.NDArray[np.int64]
    seq: npt.NDArray[np.int64]
    group: list[str]
    name: list[str]


def kernels_frame(by_rank: Mapping[int, CommColumns]) -> tuple[pd.DataFrame, str]:
    """All ranks' communication kernels with a matching key, and the method that made the keys."""
    parts = []
    for rank, comm in by_rank.items():
        groups = [g or f"stream {s}" for g, s in zip(comm.group, comm.stream.tolist(), strict=True)]
        parts.append(
            pd.DataFrame(
                {
                    "rank": rank,
                    "group": pd.Series(groups, dtype=object),
                    "name": pd.Series(comm.name, dtype=object),
                    "seq": comm.seq,
                    "start_ns": comm.start_ns,
                    "end_ns": comm.end_ns,
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if frame.empty:
        return frame, "none"
    by_seq = bool((frame["seq"] != NO_SEQ).all())
    if not by_seq:
        frame = frame.sort_values(["rank", "start_ns"], kind="stable")
        frame["seq"] = frame.groupby(["rank", "group"]).cumcount()
    return frame, "seq" if by_seq else "order"


def match_collectives(by_rank: Mapping[int, CommColumns]) -> dict[str, Any] | None:
    """`run.metrics["gpu"]["collectives"]`; None when fewer than two ranks ran collectives."""
    frame, method = kernels_frame({r: c for r, c in by_rank.items() if len(c.start_ns)})
    if frame.empty or frame["rank"].nunique() < 2:
        return None
    # Several kernels of one collective on one rank (a coalesced group): it arrives with its first.
    arrivals = frame.groupby(["group", "seq", "rank"], sort=False).agg(
        start_ns=("start_ns", "min"), name=("name", "first")
    )
    arrivals = arrivals.reset_index()
    peers = arrivals.groupby(["group", "seq"])["rank"].transform("size")
    matched = arrivals[peers >= 2].copy()
    unmatched = int((peers < 2).sum())
    if matched.empty:
        return {"method": method, "matched": 0, "unmatched": unmatched, "ranks": [], "top": []}
    keys = ["group", "seq"]
    by_key = matched.groupby(keys)["start_ns"]
    matched["last_ns"] = by_key.transform("max")
    matched["median_ns"] = by_key.transform("median")
    matched["wait_ns"] = matched["last_ns"] - matched["start_ns"]
    matched["skew_ns"] = matched["last_ns"] - by_key.transform("min")
    matched["is_last"] = (matched["start_ns"] == matched["last_ns"]) & (matched["skew_ns"] > 0)
    collectives = _per_collective(matched, keys)
    return {
        "method": method,
        "matched": len(collectives),
        "unmatched": unmatched,
        "skew_ms": _stats(collectives["skew_ns"].to_numpy() / 1e6),
        "imbalance_ms": float(collectives["late_ns"].sum()) / 1e6,
        "ranks": _per_rank(matched, len(collectives)),
        "stragglers": _stragglers(matched, len(collectives)),
        "top": _top(matched, collectives),
    }


def _per_collective(matched: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    grouped = matched.groupby(keys)
    out = grouped.agg(
        name=("name", "first"),
        first_ns=("start_ns", "min"),
        last_ns=("last_ns", "first"),
        median_ns=("median_ns", "first"),
        skew_ns=("skew_ns", "first"),
        ranks=("rank", "size"),
    ).reset_index()
    # What the job would save at this collective if the last rank had arrived with the median one.
    out["late_ns"] = out["last_ns"] - out["median_ns"]
    return out


def _per_rank(matched: pd.DataFrame, total: int) -> list[dict[str, Any]]:
    rows = []
    for _, part in matched.groupby("rank"):
        rows.append(
            {
                "rank": int(part["rank"].iloc[0]),
                "collectives": len(part),
                "wait_ms": float(part["wait_ns"].sum()) / 1e6,
                "mean_wait_ms": float(part["wait_ns"].mean()) / 1e6,
                "last_count": int(part["is_last"].sum()),
                "last_share": float(part["is_last"].sum()) / total if total else 0.0,
                "late_ms": float((part["start_ns"] - part["median_ns"])[part["is_last"]].sum()) / 1e6,
            }
        )
    return rows


def _stragglers(matched: pd.DataFrame, total: int) -> list[dict[str, Any]]:
    """Ranks that arrived last at least once, most often first."""
    counts = matched[matched["is_last"]].groupby("rank").size().sort_values(ascending=False, kind="stable")
    ranks, numbers = counts.index.to_numpy(), counts.to_numpy()
    return [
        {"rank": int(rank), "last_count": int(n), "share": int(n) / total}
        for rank, n in zip(ranks.tolist(), numbers.tolist(), strict=True)
    ]


def _top(matched: pd.DataFrame, collectives: pd.DataFrame) -> list[dict[str, Any]]:
    worst = collectives.sort_values("skew_ns", ascending=False, kind="stable").head(TOP_COLLECTIVES)
    out = []
    for row in worst.to_dict("records"):
        part = matched[(matched["group"] == row["group"]) & (matched["seq"] == row["seq"])]
        last = part[part["is_last"]]["rank"].tolist()
        waits = zip(part["rank"].tolist(), part["wait_ns"].tolist(), strict=True)
        out.append(
            {
                "group": str(row["group"]),
                "seq": int(row["seq"]),
                "name": str(row["name"]),
                "first_ms": int(row["first_ns"]) / 1e6,
                "last_ms": int(row["last_ns"]) / 1e6,
                "skew_ms": int(row["skew_ns"]) / 1e6,
                "last_rank": int(last[0]) if last else None,
                "wait_ms": {str(int(r)): int(w) / 1e6 for r, w in waits},
            }
        )
    return out


def _stats(values: npt.NDArray[np.float64]) -> dict[str, float]:
    return {
        "mean": float(values.mean()),
        "p50": float(np.percentile(values, 50)),
        "max": float(values.max()),
        "total": float(values.sum()),
    }
