"""How close each finding rule's estimated gain comes to the gain measured by running the fix.

Each rule has a real workload with its bottleneck planted and a twin with the bottleneck fixed (or, for
`gil_contention`, a control whose reader is the same but whose neighbour sleeps): see
`tests/analysis/findings/planted.py`. A pair runs the two back to back; the estimate is the rule's
`gain_ms` on the planted run, the measured gain the planted run's wall time minus the fixed one's (for
`gil_contention`: the reader's chunk delays beyond the control's). Pairs repeat, and the median of
estimate / measured is printed per rule against the target (within ±35%); targets are reported, never
enforced. These are timing measurements: on a machine shared with other work single pairs wander, which is
why they live here and not in the test suite.

`--record DIR` also saves one pair per rule (the pair whose ratio is the median one) as run directories,
`DIR/<rule>/<role>/`, with `measured.json` beside them: the tests judge the rules on these recorded runs
(`tests/data/findings/`, see `tests/analysis/findings/recorded.py`), where the numbers never change.

    .venv/bin/python benchmarks/bench_findings.py [--pairs 5] [--only gil_contention,...] [--record DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import report  # noqa: E402

from tests.analysis.findings import planted  # noqa: E402
from workbench.analysis.findings.rules.communication import client_queueing, slow_consumer  # noqa: E402
from workbench.analysis.findings.rules.gil import gil_contention  # noqa: E402
from workbench.analysis.findings.rules.pipeline import python_stage, sequential_llm  # noqa: E402
from workbench.analysis.findings.rules.regression import regression  # noqa: E402
from workbench.model.run import Run  # noqa: E402
from workbench.serve import ServerHandle, start_server  # noqa: E402
from workbench.store import save_run  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TOLERANCE = 0.35  # the target: the median estimate within this share of the median measured gain


@dataclass
class Pair:
    estimate_ms: float | None  # None: the rule did not fire on the planted run
    measured_ms: float
    runs: dict[str, Run] = field(default_factory=dict)  # role -> run, for --record

    @property
    def ratio(self) -> float | None:
        if self.estimate_ms is None or self.measured_ms <= 0:
            return None
        return self.estimate_ms / self.measured_ms


def _wall_gain_ms(slow: Run, fixed: Run) -> float:
    return (slow.wall_s - fixed.wall_s) * 1000


def _gain(found: list[Any]) -> float | None:
    return found[0].gain_ms if len(found) == 1 else None


@contextmanager
def _server(options: dict[str, Any]) -> Iterator[ServerHandle]:
    with start_server(**options) as handle:
        yield handle


def gil_pairs(n: int, store: Path) -> tuple[list[Pair], dict[str, Run]]:
    pairs = []
    for _ in range(n):
        slow, control = (
            planted.profile_gil(planted._score_documents),
            planted.profile_gil(planted._poll_storage),
        )
        runs = {"planted": slow.run, "control": control.run}
        pairs.append(Pair(_gain(gil_contention(slow.run)), planted.gil_lost_ms(slow, control), runs))
    extra = {"alone": planted.profile_gil(planted._score_documents, with_reader=False).run}
    return pairs, extra


def _pairs(
    n: int,
    slow: Callable[[], Run],
    fixed: Callable[[], Run],
    rule: Callable[[Run, Run], list[Any]],
    roles: tuple[str, str],
) -> list[Pair]:
    """`n` pairs of the planted run and its fix, profiled one after the other: the rule's estimate on
    the planted run against the wall time the fix saved."""
    pairs = []
    for _ in range(n):
        a, b = slow(), fixed()
        pairs.append(Pair(_gain(rule(a, b)), _wall_gain_ms(a, b), dict(zip(roles, (a, b), strict=True))))
    return pairs


def sequential_pairs(n: int, store: Path) -> tuple[list[Pair], dict[str, Run]]:
    with _server(planted.PIPELINE_SERVER) as server:
        client = planted.pipeline_client(server)
        planted.ask(client, "warm up the connection")
        return _pairs(
            n,
            lambda: planted.sequential_requests(client, store),
            lambda: planted.concurrent_requests(client, store),
            lambda slow, _: sequential_llm(slow, None),
            ("sequential", "concurrent"),
        ), {}


def python_stage_pairs(n: int, store: Path) -> tuple[list[Pair], dict[str, Run]]:
    with _server(planted.PIPELINE_SERVER) as server:
        client = planted.pipeline_client(server)
        planted.ask(client, "warm up the connection")
        return _pairs(
            n,
            lambda: planted.rag_cell(client, store, units=8),
            lambda: planted.rag_cell(client, store, units=4),
            lambda slow, _: python_stage(slow, None),
            ("slow", "fixed"),
        ), {}


def client_queueing_pairs(n: int, store: Path) -> tuple[list[Pair], dict[str, Run]]:
    with _server(planted.STREAM_SERVER) as server:
        return _pairs(
            n,
            lambda: planted.fan_out(server, store, connections=1),
            lambda: planted.fan_out(server, store, connections=planted.FAN_OUT),
            lambda capped, _: client_queueing(capped, None),
            ("capped", "wide"),
        ), {}


def slow_consumer_pairs(n: int, store: Path) -> tuple[list[Pair], dict[str, Run]]:
    with _server(planted.STREAM_SERVER) as server:
        pairs = _pairs(
            n,
            lambda: planted.read_stream(server, store, work_s=0.008),  # 8 ms a chunk against the server's 2
            lambda: planted.read_stream(server, store, work_s=0.004),
            lambda slow, _: slow_consumer(slow, None),
            ("slow", "faster"),
        )
        extra = {"keeps_up": planted.read_stream(server, store, work_s=0.0)}
    return pairs, extra


def regression_pairs(n: int, store: Path) -> tuple[list[Pair], dict[str, Run]]:
    planted.scoring_pipeline(store, score_units=1)  # the first profile pays for lazy imports
    return _pairs(
        n,
        lambda: planted.scoring_pipeline(store, score_units=6),
        lambda: planted.scoring_pipeline(store, score_units=2),
        regression,
        ("slower", "base"),
    ), {}


# rule -> (what the pair compares, its runner)
CASES: dict[str, tuple[str, Callable[[int, Path], tuple[list[Pair], dict[str, Run]]]]] = {
    "gil_contention": ("reader beside a Python loop vs beside a sleeper (chunk delays)", gil_pairs),
    "sequential_llm": ("2 requests one after another vs at once", sequential_pairs),
    "python_stage": ("8 units of prompt building vs 4 (2x faster)", python_stage_pairs),
    "client_queueing": (
        f"{planted.FAN_OUT} streams through 1 connection vs {planted.FAN_OUT}",
        client_queueing_pairs,
    ),
    "slow_consumer": ("8 ms of work a chunk vs 4 ms (2x faster)", slow_consumer_pairs),
    "regression": ("6 units of scoring vs the baseline's 2", regression_pairs),
}


def summarise(rule: str, pairs: list[Pair]) -> dict[str, Any]:
    ratios = [r for p in pairs if (r := p.ratio) is not None]
    estimates = [p.estimate_ms for p in pairs if p.estimate_ms is not None]
    measured = [p.measured_ms for p in pairs]
    median_ratio = statistics.median(ratios) if ratios else None
    return {
        "rule": rule,
        "pair": CASES[rule][0],
        "pairs": len(pairs),
        "fired": len(estimates),
        "estimate_ms": statistics.median(estimates) if estimates else None,
        "measured_ms": statistics.median(measured),
        "ratio_median": median_ratio,
        "ratios": ratios,
        "ratio_min": min(ratios) if ratios else None,
        "ratio_max": max(ratios) if ratios else None,
        "within_target": None if median_ratio is None else abs(median_ratio - 1) <= TOLERANCE,
    }


def record(rule: str, pairs: list[Pair], extra: dict[str, Run], folder: Path) -> Path:
    """The pair whose ratio is the median one, and the extra controls, saved as run directories."""
    fired = sorted((p for p in pairs if p.ratio is not None), key=lambda p: p.ratio or 0.0)
    if not fired:
        raise RuntimeError(f"{rule}: the rule fired on no planted run; nothing to record")
    chosen = fired[(len(fired) - 1) // 2]
    target = folder / rule
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        for role, run in {**chosen.runs, **extra}.items():
            saved = save_run(run, Path(tmp) / role)
            shutil.copytree(saved, target / role)
    measured = {
        "rule": rule,
        "pair": CASES[rule][0],
        "estimate_ms": chosen.estimate_ms,
        "measured_gain_ms": chosen.measured_ms,
        "ratio": chosen.ratio,
        "ratios_of_all_pairs": [p.ratio for p in pairs],
        "recorded": report.today(),
        "machine": report.machine().get("cpu", ""),
    }
    (target / "measured.json").write_text(json.dumps(measured, indent=1) + "\n")
    return target


def markdown(rows: list[dict[str, Any]]) -> str:
    def ms(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0f}"

    def ratio(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f}"

    lines = [
        "| rule | planted vs fixed | fired | estimate ms | measured ms | estimate/measured (median) | range |"
        " within ±35% |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['rule']} | {r['pair']} | error: {r['error']} | | | | | |")
            continue
        verdict = "n/a" if r["within_target"] is None else ("yes" if r["within_target"] else "NO")
        lines.append(
            f"| {r['rule']} | {r['pair']} | {r['fired']}/{r['pairs']} | {ms(r['estimate_ms'])} | "
            f"{ms(r['measured_ms'])} | {ratio(r['ratio_median'])} | "
            f"{ratio(r['ratio_min'])}..{ratio(r['ratio_max'])} | {verdict} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=5, help="planted/fixed pairs per rule (default 5)")
    parser.add_argument("--only", default=",".join(CASES), help=f"comma-separated subset of {list(CASES)}")
    parser.add_argument("--record", type=Path, help="save one pair per rule here (e.g. tests/data/findings)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for rule in args.only.split(","):
            label, runner = CASES[rule]
            print(f"== {rule}: {label}, {args.pairs} pairs ...", flush=True)
            try:
                pairs, extra = runner(args.pairs, Path(tmp) / rule)
            except Exception as error:  # a rule whose workload breaks is reported, the others still run
                rows.append({"rule": rule, "pair": label, "error": f"{type(error).__name__}: {error}"})
                continue
            row = summarise(rule, pairs)
            rows.append(row)
            for p in pairs:
                est = "not fired" if p.estimate_ms is None else f"{p.estimate_ms:.0f} ms"
                ratio = "" if p.ratio is None else f", estimate/measured {p.ratio:.2f}"
                print(f"   estimate {est}, measured {p.measured_ms:.0f} ms{ratio}", flush=True)
            if args.record is not None:
                print(f"   recorded {record(rule, pairs, extra, args.record)}", flush=True)
    table = markdown(rows)
    print()
    print(table)
    RESULTS.mkdir(exist_ok=True)
    results = {"date": report.today(), "machine": report.machine(), "pairs": args.pairs, "rules": rows}
    (RESULTS / "findings.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "findings.md").write_text(table + "\n")
    print(f"\nwrote {RESULTS / 'findings.json'} and {RESULTS / 'findings.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
