"""Cost of the crash-safety journal: a profiled block with and without it, interleaved in one process.

The workload is an FM-pipeline-shaped loop that records at a high rate for a notebook (per second: a few
hundred spans and as many streamed-token arrivals), so every journal flush has real work to write. Rounds
alternate journal on / off (off: the session's JournalWriter replaced by one that never starts), with the
CPU profiler off so that py-spy's noise does not hide the difference. Prints the median wall time of each,
their ratio (target: at most 1.01), and the writer thread's own CPU time as a share of the block.

    .venv/bin/python benchmarks/bench_journal.py [--rounds 7] [--steps 2000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))

import workbench as wb  # noqa: E402
from workbench.session import journaling, profile_session  # noqa: E402


class _NoJournal(journaling.JournalWriter):
    def start(self) -> None:
        pass


def _workload(steps: int) -> float:
    """The block's own time for a fixed amount of work (the save after it is not the journal's cost)."""
    started = time.perf_counter()
    for step in range(steps):
        with wb.span(f"step {step}", kind="retrieve"):
            total = sum(range(40_000))
        with wb.llm_request(model="bench") as request:
            request.chunk(1, text=str(total % 10))
    return time.perf_counter() - started


def _one(store: Path, steps: int, journal: bool) -> tuple[float, dict[str, Any]]:
    writers: list[journaling.JournalWriter] = []
    chosen = journaling.JournalWriter if journal else _NoJournal

    def writer(*args: Any, **kwargs: Any) -> journaling.JournalWriter:
        made = chosen(*args, **kwargs)
        writers.append(made)
        return made

    profile_session.JournalWriter = writer  # type: ignore[assignment,misc]
    with wb.profile(name="bench-journal", store=store, cpu=False, tokens=True):
        wall = _workload(steps)
    profile_session.JournalWriter = journaling.JournalWriter  # type: ignore[misc]
    used = writers[0] if writers else None
    run = wb.last_run()
    stats = {
        "busy_s": used.busy_s if used else 0.0,
        "flushes": used.flushes if used else 0,
        "spans": len(run.recording.spans) if run else 0,
    }
    return wall, stats


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--steps", type=int, default=2_000, help="pipeline steps per block (2,000: about 1 s here)"
    )
    args = parser.parse_args()
    walls: dict[bool, list[float]] = {True: [], False: []}
    shares: list[float] = []
    spans = flushes = 0
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder)
        _one(store, 100, True)  # warm-up
        for _ in range(args.rounds):
            for journal in (True, False):
                wall, stats = _one(store, args.steps, journal)
                walls[journal].append(wall)
                if journal:
                    shares.append(stats["busy_s"] / wall)
                    spans, flushes = stats["spans"], stats["flushes"]
    on, off = statistics.median(walls[True]), statistics.median(walls[False])
    print(
        f"workload: {args.steps:,} steps: {spans:,} spans, {args.steps:,} token arrivals, {flushes} flushes"
    )
    print(f"journal on   median {on:.3f} s")
    print(f"journal off  median {off:.3f} s")
    print(f"ratio on/off {on / off:.4f}")
    share, worst = statistics.median(shares), max(shares)
    print(f"writer CPU   median {share:.3%} of the block (max {worst:.3%}); wall ratio target <= 1.01")
    RESULTS.mkdir(exist_ok=True)
    summary = {"steps": args.steps, "spans": spans, "flushes": flushes, "on_s": on, "off_s": off}
    summary |= {"ratio": on / off, "writer_cpu_share": share, "writer_cpu_share_max": worst}
    (RESULTS / "journal.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {RESULTS / 'journal.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
