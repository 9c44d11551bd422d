"""Cost of the live view: a pure-Python `%%fmprofile` cell with the live view on and off, in a real kernel.

Rounds alternate live on / live off (`--quiet` shows no live view; the final display happens after the
timed region either way), and the cell times itself, so kernel start-up and rendering are not counted.
Prints median in-cell seconds, the slowdown, and the updater's own numbers (ticks/s, CPU ms per second of
cell, iopub messages per second). Run with no frontend attached: the kernel sends the same messages.

    .venv/bin/python benchmarks/bench_live.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.kernel import workbench_kernel  # noqa: E402

BODY = (
    "import time\n"
    "_t0 = time.perf_counter()\n"
    "_total = 0\n"
    "for _i in range(12_000_000):\n"
    "    _total += _i % 7\n"
    "print('ELAPSED', time.perf_counter() - _t0)\n"
)
VARIANTS = {
    "live on": "%%fmprofile --name bench-live\n",
    "live off": "%%fmprofile --quiet --name bench-quiet\n",
}
STATS = (
    "import json\nfrom workbench.notebook import magics as _m\n_s = _m._profiler.last_live_stats\n"
    "print('STATS', json.dumps({'updates_per_s': _s.updates_per_s, 'cpu_ms_per_s': _s.cpu_ms_per_s,"
    " 'max_tick_cpu_ms': _s.max_tick_cpu_ms, 'messages_per_s': _s.messages_per_s, 'ticks': _s.ticks}))\n"
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    stats = []
    with tempfile.TemporaryDirectory() as tmp, workbench_kernel(Path(tmp), Path(tmp) / "store") as kernel:
        for _ in range(args.rounds):
            for name, magic in VARIANTS.items():
                result = kernel.execute(magic + BODY, timeout=300)
                times[name].append(float(result.text("stdout").split("ELAPSED", 1)[1].split()[0]))
                if name == "live on":
                    out = kernel.execute(STATS).text("stdout")
                    stats.append(json.loads(out.split("STATS", 1)[1]))
    on, off = statistics.median(times["live on"]), statistics.median(times["live off"])
    print(
        f"pure-Python cell, median of {args.rounds} interleaved rounds: live on {on:.3f} s, off {off:.3f} s"
    )
    print(f"slowdown with the live view: {100 * (on / off - 1):+.1f}%")
    for key in ("updates_per_s", "cpu_ms_per_s", "max_tick_cpu_ms", "messages_per_s"):
        print(f"  {key}: median {statistics.median(s[key] for s in stats):.2f}")


if __name__ == "__main__":
    main()
