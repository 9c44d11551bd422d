"""Overhead of `%%fmprofile` on the quickstart notebook's profiled cell, in a real kernel.

The cell is run unprofiled and under each profiler in alternation, several rounds, in one kernel;
the script prints median wall times and their ratios to the unprofiled cell. Peers measured in the
same run: `%%fmprofile --no-cpu` (hooks only) and IPython's `%%prun -q` (cProfile).

    .venv/bin/python benchmarks/bench_overhead.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.kernel import Kernel  # noqa: E402

NOTEBOOK = ROOT / "notebooks" / "01_quickstart.ipynb"
VARIANTS = {
    "unprofiled": "",
    "%%fmprofile": "%%fmprofile --quiet --name bench\n",
    "%%fmprofile --no-cpu": "%%fmprofile --quiet --no-cpu --name bench-nocpu\n",
    "%%prun -q (cProfile)": "%%prun -q\n",
}


def notebook_parts() -> tuple[list[str], str]:
    """The code cells before the profiled one, and the profiled cell's body without the magic line."""
    cells = [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    index = next(i for i, source in enumerate(cells) if source.startswith("%%fmprofile"))
    return cells[:index], cells[index].split("\n", 1)[1]


def timed(kernel: Kernel, code: str) -> float:
    start = time.perf_counter()
    result = kernel.execute(code, timeout=600)
    elapsed = time.perf_counter() - start
    if result.status != "ok":
        raise RuntimeError(f"benchmark cell failed: {result.text()[-2000:]}")
    return elapsed


def inner_wall_s(kernel: Kernel) -> float:
    result = kernel.execute("print(wb.last_run().metrics['wall_s'])")
    return float(result.text("stdout").strip())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    setup, body = notebook_parts()
    with tempfile.TemporaryDirectory() as tmp:
        kernel = Kernel(cwd=Path(tmp), env={"WORKBENCH_STORE": str(Path(tmp) / "store")})
        try:
            for code in setup:
                timed(kernel, code)
            timed(kernel, body)  # warm-up: first generate() pays one-off costs
            times: dict[str, list[float]] = {name: [] for name in VARIANTS}
            inner: list[float] = []
            for _ in range(args.rounds):
                for name, prefix in VARIANTS.items():
                    times[name].append(timed(kernel, prefix + body))
                    if name == "%%fmprofile":
                        inner.append(inner_wall_s(kernel))
        finally:
            kernel.shutdown()
    base = statistics.median(times["unprofiled"])
    print(
        f"quickstart cell, {args.rounds} rounds, median wall time seen by the client (includes start/save):"
    )
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:24} {median * 1e3:8.1f} ms   x{median / base:5.2f}")
    inside = statistics.median(inner)
    label = "%%fmprofile, cell body"
    print(f"  {label:24} {inside * 1e3:8.1f} ms   x{inside / base:5.2f}  (run.metrics['wall_s'])")
    return 0


if __name__ == "__main__":
    sys.exit(main())
