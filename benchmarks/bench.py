"""`make bench`: FM Workbench's benchmark suite (issue 7), one entry point.

Installs the peers it measures (benchmarks/requirements.txt into the project's .venv, pinned by
constraints.txt; HTA into benchmarks/.venv-hta), then runs:

1. overhead on three FM workloads under %%fmprofile (defaults, --kernels, --rate 1000) and the peers
   (cProfile, pyinstrument, Scalene, py-spy record, torch.profiler, viztracer), interleaved;
2. the live view's cost (from the same rounds of workload (a));
3. accuracy against a calibrated busy function;
4. scale: a simulated one-hour cell, and a 1e6-event Kineto trace against HTA;
5. the judgements the tests leave to the benchmark, each its own script run here as a child process:
   the crash-safety journal's cost (bench_journal), the findings' estimates against the gains measured
   by fixing the planted cause (bench_findings), the request capture against a server's exact schedule
   (bench_capture), and compare's noise floor against a planted slowdown (bench_compare); and what a
   profiled cell costs end to end, execute request to idle and notebook bytes (bench_cell_cost).

Prints the table, writes benchmarks/results/bench.json and bench.md, and rewrites the README's region
between `<!-- bench:start -->` and `<!-- bench:end -->`. Targets are reported, never enforced.

    .venv/bin/python benchmarks/bench.py [--quick] [--only overhead,accuracy,scale,kineto,journal,...]
                                         [--no-readme]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402

SECTIONS = (
    "overhead", "accuracy", "scale", "kineto", "cell_cost", "spans", "journal", "findings", "capture",
    "compare",
)  # fmt: skip
# Section -> the script's arguments (full run, --quick run); each writes results/<section>.json.
SCRIPTS: dict[str, tuple[list[str], list[str]]] = {
    "cell_cost": (["--rounds", "7"], ["--rounds", "2"]),
    "spans": (["--rounds", "2"], ["--rounds", "1", "--spans", "200000"]),
    "journal": (["--rounds", "7", "--steps", "6000"], ["--rounds", "3", "--steps", "3000"]),
    "findings": (["--pairs", "5"], ["--pairs", "2"]),
    "capture": (["--requests", "20"], ["--requests", "8"]),
    "compare": (["--sets", "5"], ["--sets", "2"]),
}


def install_peers() -> None:
    missing = [
        name for name in ("pyinstrument", "scalene", "viztracer") if importlib.util.find_spec(name) is None
    ]
    if missing:
        print(f"installing {', '.join(missing)} (benchmarks/requirements.txt)", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "-c",
                str(ROOT / "constraints.txt"),
                "-r",
                str(HERE / "requirements.txt"),
            ],
            check=True,
        )


def step(name: str, call: Any) -> Any:
    print(f"== {name} ...", flush=True)
    start = time.perf_counter()
    try:
        value = call()
    except Exception as error:  # a section that breaks is reported as n/a, the others still run
        value = {"error": f"{type(error).__name__}: {str(error)[-300:]}"}
    print(f"== {name}: {time.perf_counter() - start:.0f} s", flush=True)
    return value


def run_script(section: str, quick: bool) -> Any:
    """Run benchmarks/bench_<section>.py in a child process (its own interpreter, as a user would) and
    return the JSON it wrote."""
    full, short = SCRIPTS[section]
    command = [sys.executable, str(HERE / f"bench_{section}.py"), *(short if quick else full)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"exit {done.returncode}: {(done.stderr or done.stdout)[-300:]}")
    return json.loads((report.RESULTS / f"{section}.json").read_text())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="2 rounds, smaller Kineto trace: for development"
    )
    parser.add_argument(
        "--rounds", type=int, help="repetitions after the warm-up (default 5; 2 with --quick)"
    )
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument("--workloads", default="abc", help="overhead workloads to run (default abc)")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite the README's table")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep results/bench.json's other sections, replacing only those run now",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="re-render the table and README from results/bench.json"
    )
    args = parser.parse_args()
    if args.report_only:
        saved = json.loads((report.RESULTS / "bench.json").read_text())
        saved["targets"] = report.targets(saved)
        print(report.write(saved, update_readme=not args.no_readme))
        return 0
    only = set(args.only.split(","))
    rounds = args.rounds or (2 if args.quick else 5)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "date": report.today(),
        "machine": report.machine(),
        "quick": args.quick,
        "rounds": rounds,
    }
    install_peers()
    if "overhead" in only:
        import overhead

        results["overhead"] = step(
            "1. overhead (and 2. live view)", lambda: overhead.run(rounds, args.workloads)
        )
        if "error" in results["overhead"]:
            results["overhead"] = {"error": results["overhead"]["error"]}
        else:
            results["live"] = report.live_summary(results["overhead"])
    if "accuracy" in only:
        import accuracy

        value = step("3. accuracy", lambda: accuracy.run(1 if args.quick else 3))
        results["accuracy"] = value if isinstance(value, list) else [{"tool": "all", "error": value["error"]}]
    if "scale" in only:
        import scale

        results["hour"] = step("4. scale: one-hour cell", scale.measure_hour)
    if "kineto" in only:
        import kineto

        results["kineto"] = step(
            "4. scale: Kineto trace", lambda: kineto.run(200_000 if args.quick else 1_000_000)
        )
    for section in SCRIPTS:
        if section in only:
            results[section] = step(f"5. {section}", lambda section=section: run_script(section, args.quick))
    if isinstance(results.get("overhead"), dict) and "error" in results["overhead"]:
        results["overhead_error"] = results.pop("overhead")["error"]
    if args.merge:
        saved = json.loads((report.RESULTS / "bench.json").read_text())
        results = {**saved, **{k: v for k, v in results.items() if k in only or k in ("hour", "live")}}
    results["targets"] = report.targets(results)
    results["wall_s"] = time.perf_counter() - started
    # A --quick run writes bench-quick.*, leaving the full run's table and the README alone.
    stem = "bench-quick" if args.quick else "bench"
    table = report.write(results, stem, update_readme=not args.no_readme and not args.quick)
    print()
    print(table)
    print("targets:")
    for row in results["targets"]:
        verdict = "n/a" if row["met"] is None else ("met" if row["met"] else "MISSED")
        print(f"  {row['target']}: {row['measured']} (target {row['goal']}): {verdict}")
    print(f"wrote {report.RESULTS / stem}.json and .md in {results['wall_s'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
