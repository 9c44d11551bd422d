"""How much two profiles of the same code differ (`wb.compare`'s noise) against a planted 3x slowdown.

A cell of two spans, `slow` (`slow_part`, pure Python) and `fast` (`fast_part`, the same loop), is profiled
with py-spy as "base" (2 units of slow work, 2 of fast), "same" (the same) and "slower" (6 units of slow
work). For each set it prints the largest change in a function's share of the sampled time, in a flame graph
frame's share and in the `slow` span's total between base and same (noise) and between base and slower (the
planted change). Sampled shares and span times move with whatever else the machine runs: on a 2-core VM with
one core kept busy, identical runs differed by up to ~16 points and ~29% while the planted change moved
`slow_part` by 22-36 points. That is why `tests/saved/test_compare.py` judges recorded runs
(`--record tests/data/compare`: the set whose noise is the median one), where the numbers never change.

    .venv/bin/python benchmarks/bench_compare.py [--sets 5] [--record DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import workbench as wb  # noqa: E402
from workbench.model.run import Run  # noqa: E402
from workbench.store import save_run  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
UNIT = 2_000_000  # ~0.1 s of pure-Python work a unit on the 2-core VM
RATE = 200
RUNS = (("base", 2), ("same", 2), ("slower", 6))


def slow_part(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def fast_part(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def workload(slow_units: int) -> None:
    with wb.span("slow", kind="compute"):
        slow_part(slow_units * UNIT)
    with wb.span("fast", kind="compute"):
        fast_part(2 * UNIT)


def profile_set(store: Path) -> dict[str, Run]:
    # The first profile in a process pays for lazy imports and first-use set-up: not part of "base".
    with wb.profile(name="warm-up", store=store / "warm-up", rate=RATE):
        workload(1)
    runs = {}
    for name, units in RUNS:
        with wb.profile(name=name, store=store, rate=RATE) as run:
            workload(units)
        runs[name] = run
    return runs


def differences(a: Run, b: Run) -> dict[str, float]:
    diff = wb.compare(a, b)
    functions = diff.functions.set_index("function")
    spans = diff.spans.set_index("name")
    return {
        "function_points_max": float(diff.functions["delta"].abs().max()),
        "slow_part_points": float(functions.loc["slow_part", "delta"]),
        "frame_share_max": max(abs(n.delta) for n in diff.flame.walk()),
        "slow_span_pct": float(spans.loc["slow", "delta_pct"]),
    }


def record(runs: dict[str, Run], folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, run in runs.items():
            shutil.copytree(save_run(run, Path(tmp) / name), folder / name)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", type=int, default=5, help="base/same/slower sets (default 5)")
    parser.add_argument(
        "--record", type=Path, help="save the median-noise set here (e.g. tests/data/compare)"
    )
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    sets = []
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.sets):
            runs = profile_set(Path(tmp) / str(index))
            noise, planted = (
                differences(runs["base"], runs["same"]),
                differences(runs["base"], runs["slower"]),
            )
            rows.append({"noise": noise, "planted": planted})
            sets.append(runs)
            print(
                f"identical: functions move up to {noise['function_points_max']:.1f} points, frames "
                f"{noise['frame_share_max']:.3f}, the slow span {noise['slow_span_pct']:+.1f}% | "
                f"3x slower: slow_part {planted['slow_part_points']:+.1f} points, "
                f"the slow span {planted['slow_span_pct']:+.0f}%",
                flush=True,
            )
        if args.record is not None:
            order = sorted(range(len(rows)), key=lambda i: rows[i]["noise"]["function_points_max"])
            chosen = order[(len(order) - 1) // 2]
            record(sets[chosen], args.record)
            print(f"recorded set {chosen + 1} in {args.record}")
    summary = {
        "identical_function_points_max": max(r["noise"]["function_points_max"] for r in rows),
        "identical_slow_span_pct_max": max(abs(r["noise"]["slow_span_pct"]) for r in rows),
        "planted_slow_part_points_min": min(r["planted"]["slow_part_points"] for r in rows),
        "planted_slow_part_points_median": statistics.median(r["planted"]["slow_part_points"] for r in rows),
    }
    print(json.dumps(summary, indent=1))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "compare.json").write_text(json.dumps({"sets": rows, "summary": summary}, indent=2) + "\n")
    print(f"wrote {RESULTS / 'compare.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
