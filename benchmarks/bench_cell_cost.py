"""What a profiled cell costs the user end to end: execute request to kernel idle, and bytes of output.

One real Jupyter kernel (jupyter_client, as a frontend drives it) runs the same short pure-Python cell
plain and under each tool, interleaved round by round after a warm-up round: `%%time`, `%%prun -q`,
`%%fmprofile`, `%%fmprofile --quiet`, and where they are installed (`make bench` installs them)
pyinstrument's `%%pyinstrument`, VizTracer's `%%viztracer` and Scalene's `%%scalene` (Scalene profiles
the cell in a process of its own, taking tens of seconds a cell: it runs `--scalene-rounds` rounds, after
the interleaved ones). The time is the client's, from sending the execute request to the kernel's idle
status (what JupyterLab's Busy indicator shows); the bytes are the cell's outputs as a notebook saves
them (after display updates). Prints medians and their difference to the plain cell; writes
results/cell_cost.json. Targets (issue 16): +60 ms default, +40 ms --quiet; the bytes of each profiled
cell after a notebook's first, 150 KB.

    .venv/bin/python benchmarks/bench_cell_cost.py [--rounds 7] [--loops 3200000]
"""

from __future__ import annotations

import argparse
import importlib.util
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

from tests.kernel import Execution, Kernel  # noqa: E402

BODY = "total = 0\nfor i in range({loops}):\n    total += i % 7\n"


def tools() -> dict[str, str]:
    """Tool -> the first line(s) put above the cell body."""
    chosen = {
        "plain": "",
        "%%time": "%%time\n",
        "%%prun -q": "%%prun -q\n",
        "%%fmprofile": "%%fmprofile\n",
        "%%fmprofile --quiet": "%%fmprofile --quiet\n",
    }
    for module, magic in PEERS.items():
        if importlib.util.find_spec(module) is not None:
            chosen[magic] = magic + "\n"
    return chosen


# Peer module -> its cell magic (loaded with `%load_ext module`).
PEERS = {"pyinstrument": "%%pyinstrument", "viztracer": "%%viztracer", "scalene": "%%scalene"}
SLOW = "%%scalene"


def output_bytes(execution: Execution) -> int:
    """The outputs' size as nbformat stores them (data and text, JSON-encoded)."""
    saved = []
    for out in execution.outputs:
        content = out["content"]
        if out["msg_type"] == "stream":
            saved.append({"name": content["name"], "text": content["text"]})
        elif out["msg_type"] in ("display_data", "execute_result"):
            saved.append({"data": content["data"], "metadata": content.get("metadata", {})})
    return len(json.dumps(saved))


def timed(kernel: Kernel, code: str) -> tuple[float, int]:
    start = time.perf_counter()
    execution = kernel.execute(code, timeout=600)
    elapsed = time.perf_counter() - start
    if execution.status != "ok":
        raise RuntimeError(execution.text()[-800:])
    return elapsed, output_bytes(execution)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--loops", type=int, default=3_200_000, help="loop length (~0.25 s here)")
    parser.add_argument("--scalene-rounds", type=int, default=2, help="rounds of %%%%scalene (0: none)")
    parser.add_argument("--workloads", default="short,quickstart", help="short, quickstart or both")
    args = parser.parse_args()
    results: dict[str, Any] = {"loops": args.loops, "rounds": args.rounds}
    for workload in args.workloads.split(","):
        setup, body = workloads(args.loops)[workload]
        rows = measure(setup, body, args.rounds, args.scalene_rounds if workload == "short" else 0)
        print_rows(workload, rows, args.rounds)
        results[workload] = rows
        if workload == "short":
            results["rows"] = rows  # the short cell's rows, where report.py reads them
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cell_cost.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS / 'cell_cost.json'}")
    return 0


def workloads(loops: int) -> dict[str, tuple[list[str], str]]:
    """Workload -> (the cells run once first, the measured cell's body)."""
    import nbformat

    quickstart = nbformat.read(ROOT / "notebooks" / "01_quickstart.ipynb", as_version=4)
    code = [c.source for c in quickstart.cells if c.cell_type == "code"]
    profiled = next(c for c in code if c.startswith("%%fmprofile"))
    setup = [c for c in code[: code.index(profiled)] if not c.startswith("%load_ext")]
    return {
        "short": ([], BODY.format(loops=loops)),
        # The quickstart's pipeline cell (retrieve, prompt, generate() on a tiny GPT-2, parse).
        "quickstart": (["import workbench as wb", *setup], profiled.split("\n", 1)[1]),
    }


def measure(setup: list[str], body: str, rounds: int, scalene_rounds: int) -> list[dict[str, Any]]:
    """One kernel: each tool on `body`, interleaved round by round after a warm-up round."""
    chosen = tools()
    times: dict[str, list[float]] = {name: [] for name in chosen}
    sizes: dict[str, list[int]] = {name: [] for name in chosen}
    with tempfile.TemporaryDirectory() as folder:
        # One thread for torch: two busy cores make a generate() call vary from 0.1 s to several.
        env = {"WORKBENCH_STORE": str(Path(folder) / "store"), "OMP_NUM_THREADS": "1"}
        kernel = Kernel(cwd=Path(folder), env=env)
        try:
            timed(kernel, "%load_ext workbench")
            for module, magic in PEERS.items():
                if magic in chosen:
                    timed(kernel, f"%load_ext {module}")
            for cell in setup:
                timed(kernel, cell)
            for round_index in range(rounds + 1):
                for name, head in chosen.items():
                    if name == SLOW:
                        continue
                    elapsed, size = timed(kernel, head + body)
                    if round_index:  # round 0 warms up: imports, BokehJS into the page
                        times[name].append(elapsed)
                    sizes[name].append(size)
            if SLOW in chosen and scalene_rounds > 0:
                for round_index in range(scalene_rounds + 1):
                    elapsed, size = timed(kernel, chosen[SLOW] + body)
                    if round_index:
                        times[SLOW].append(elapsed)
                    sizes[SLOW].append(size)
            else:
                # Scalene's magic profiles the cell in a process of its own, without the notebook's
                # variables: it cannot run a cell that uses them (the quickstart's model).
                chosen.pop(SLOW, None)
        finally:
            kernel.shutdown()
    plain = statistics.median(times["plain"])
    rows: list[dict[str, Any]] = []
    for name in chosen:
        median = statistics.median(times[name])
        rows.append(
            {
                "tool": name,
                "median_ms": 1000 * median,
                "added_ms": 1000 * (median - plain),
                "ratio": median / plain,
                "first_output_bytes": sizes[name][0],
                "later_output_bytes": statistics.median(sizes[name][1:]),
            }
        )
    return rows


def print_rows(workload: str, rows: list[dict[str, Any]], rounds: int) -> None:
    plain = rows[0]["median_ms"]
    print(f"{workload} cell: plain {plain:.0f} ms; {rounds} rounds")
    print(
        f"{'tool':22} {'request→idle ms':>16} {'added ms':>9} {'× plain':>8} {'1st cell bytes':>15} "
        f"{'later bytes':>12}"
    )
    for row in rows:
        print(
            f"{row['tool']:22} {row['median_ms']:16.0f} {row['added_ms']:+9.0f} {row['ratio']:8.2f} "
            f"{row['first_output_bytes']:15,} {row['later_output_bytes']:12,.0f}"
        )


if __name__ == "__main__":
    sys.exit(main())
