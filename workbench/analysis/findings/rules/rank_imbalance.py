"""Ranks out of step: one rank reaches the job's collectives late, and every other rank waits for it.

Reads the collectives matched across ranks at import (`metrics["gpu"]["collectives"]`, see
`analysis/collectives.py`) and the per-rank breakdown (`metrics["gpu"]["ranks"]`); silent on a run with
one rank or without matched collectives.
"""

from __future__ import annotations

from statistics import median
from typing import Any

from workbench.analysis.findings.model import Evidence, Finding, severity_of
from workbench.analysis.findings.registry import rule
from workbench.analysis.findings.rules.gpu_common import cell_ms
from workbench.model.run import Run

# Fewer matched collectives than this is too little to call one rank the straggler.
MIN_COLLECTIVES = 3
# With two ranks one of them is always last; a straggler is last well beyond its fair share.
MIN_LAST_SHARE = 0.6
# The time lost to imbalance must be a noticeable part of the ranks' GPU window, and at least a ms.
MIN_IMBALANCE_SHARE = 0.05
MIN_GAIN_MS = 1.0
MAX_POINTERS = 3


@rule("rank_imbalance", "one rank reaches the collectives late and the other ranks wait for it")
def rank_imbalance(run: Run, baseline: Run | None = None) -> list[Finding]:
    gpu = run.metrics.get("gpu") or {}
    collectives: dict[str, Any] = gpu.get("collectives") or {}
    ranks: list[dict[str, Any]] = gpu.get("ranks") or []
    stragglers = collectives.get("stragglers") or []
    matched = int(collectives.get("matched") or 0)
    if len(ranks) < 2 or matched < MIN_COLLECTIVES or not stragglers:
        return []
    worst = stragglers[0]
    per_rank = {int(r["rank"]): r for r in collectives.get("ranks") or []}
    late = per_rank.get(int(worst["rank"]), {})
    gain_ms = float(late.get("late_ms") or 0.0)
    window_ms = median(float(r["window_ms"]) for r in ranks) or 1.0
    others_wait = sum(float(r["wait_ms"]) for k, r in per_rank.items() if k != worst["rank"])
    if (
        float(worst["share"]) < MIN_LAST_SHARE
        or gain_ms < MIN_GAIN_MS
        or gain_ms / window_ms < MIN_IMBALANCE_SHARE
    ):
        return []
    compute = {int(r["rank"]): float(r["compute_ms"]) for r in ranks}
    rank = int(worst["rank"])
    return [
        Finding(
            kind="rank_imbalance",
            severity=severity_of(gain_ms, cell_ms(run)),
            title=f"rank {rank} arrives last at {worst['last_count']} of {matched} collectives: the other "
            f"ranks wait {others_wait:,.1f} ms for it",
            evidence={
                "straggler_rank": rank,
                "last_count": int(worst["last_count"]),
                "collectives": matched,
                "last_share": float(worst["share"]),
                "others_wait_ms": others_wait,
                "straggler_late_ms": gain_ms,
                "skew_ms_mean": float((collectives.get("skew_ms") or {}).get("mean", 0.0)),
                "straggler_compute_ms": compute.get(rank, 0.0),
                "median_compute_ms": median(compute.values()),
                "match_method": str(collectives.get("method", "")),
            },
            pointers=_pointers(collectives, rank),
            suggestion="even out the work per rank before the collectives: balance the data (sequence "
            "lengths, samples per rank, MoE routing), the model's sharding, or the host work one rank does "
            "alone (logging, checkpointing, data loading on rank 0); check that rank's GPU and host for "
            "throttling or noisy neighbours",
            gain_ms=gain_ms,
            assumption=f"rank {rank} reaches each collective where it arrived last when the median rank "
            "did; the collectives then start that much earlier on every rank",
        )
    ]


def _pointers(collectives: dict[str, Any], rank: int) -> list[Evidence]:
    pointers = []
    for c in collectives.get("top") or []:
        if c.get("last_rank") != rank:
            continue
        label = f"{str(c['name'])[:48]} ({c['group']} #{c['seq']}): skew {c['skew_ms']:,.1f} ms"
        pointers.append(Evidence("time_range", label, float(c["first_ms"]), float(c["last_ms"])))
        if len(pointers) == MAX_POINTERS:
            break
    return pointers
