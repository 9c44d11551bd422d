"""Scale, part 2: a 1e6-event Kineto trace read by our importer and by HTA's parser (`bench_kineto.py`),
and 8 ranks' traces imported as one run, in one process and through a process pool.

Each parser runs in its own process (peak RSS is its own); HTA lives in benchmarks/.venv-hta.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import bench_kineto as bk


def run(events: int) -> dict[str, Any]:
    if not bk.SOURCE.exists():
        return {"error": f"missing {bk.SOURCE}"}
    with tempfile.TemporaryDirectory() as folder:
        trace, total = bk.build_trace(events, Path(folder))
        size_mb = trace.stat().st_size / 1e6
        rows = [{"parser": "workbench (msgspec)", **bk.measure(Path(sys.executable), bk.OURS, trace)}]
        try:
            rows.append({"parser": "HTA parse_trace_file", **bk.measure(bk.ensure_hta(), bk.HTA, trace)})
        except Exception as error:
            rows.append(
                {"parser": "HTA parse_trace_file", "error": f"{type(error).__name__}: {str(error)[-300:]}"}
            )
        ranks = None
        if bk.ranks_available():
            ranks = bk.measure_ranks(bk.build_rank_traces(8 if events >= 1_000_000 else 2, Path(folder)))
    ours = rows[0]
    for row in rows:
        if "seconds" in row:
            row["time_ratio"] = row["seconds"] / ours["seconds"]
            row["memory_ratio"] = row["peak_mb"] / ours["peak_mb"]
    if events >= 1_000_000 and all("seconds" in row for row in rows):
        bk.write_results(rows, total, size_mb, None, ranks)  # results/kineto.json and kineto.md, as before
    return {"events": total, "gzip_mb": size_mb, "rows": rows, "ranks": ranks}
