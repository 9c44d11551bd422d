"""A big run: one `%%fmprofile` cell that opens a million `wb.span`s, in a real kernel.

What the user waits for after their loop: the kernel's busy time (execute request to idle) minus the loop's
own time as the cell measured it (stopping, analysis, saving, drawing and sending the dashboard); the bytes
the output adds to the notebook; the size of the run's run.json. Targets (issue 16): busy ≤ 5 s after the
loop, output ≤ 5 MB, run.json ≤ 10 MB. Writes results/spans.json.

    .venv/bin/python benchmarks/bench_spans.py [--spans 1000000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))

from benchmarks.bench_cell_cost import output_bytes  # noqa: E402
from tests.kernel import Kernel  # noqa: E402

CELL = """%%fmprofile --name spans
import time as _time
import workbench as _wb
_t0 = _time.perf_counter()
for _ in range({spans}):
    with _wb.span("step"):
        pass
print("LOOP_S", _time.perf_counter() - _t0)
"""


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    after: list[float] = []
    sizes: list[int] = []
    run_json: list[int] = []
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "store"
        kernel = Kernel(cwd=Path(folder), env={"WORKBENCH_STORE": str(store)})
        try:
            kernel.execute("%load_ext workbench", timeout=600)
            for _ in range(args.rounds):
                start = time.perf_counter()
                execution = kernel.execute(CELL.format(spans=args.spans), timeout=1200)
                busy = time.perf_counter() - start
                if execution.status != "ok":
                    raise RuntimeError(execution.text()[-800:])
                loop = float(execution.text().split("LOOP_S", 1)[1].split()[0])
                after.append(busy - loop)
                sizes.append(output_bytes(execution))
                newest = max((store / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
                run_json.append((newest / "run.json").stat().st_size)
        finally:
            kernel.shutdown()
    result = {
        "spans": args.spans,
        "rounds": args.rounds,
        "busy_after_loop_s": statistics.median(after),
        "output_bytes": statistics.median(sizes),
        "run_json_bytes": statistics.median(run_json),
        "all_busy_after_loop_s": after,
    }
    print(
        f"{args.spans:,} spans: busy after the loop {result['busy_after_loop_s']:.2f} s (goal ≤ 5 s), "
        f"output {result['output_bytes'] / 1e6:.2f} MB (≤ 5 MB), "
        f"run.json {result['run_json_bytes'] / 1e6:.2f} MB (≤ 10 MB)"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "spans.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
