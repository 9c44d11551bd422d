"""Accuracy: the share of the cell each profiler gives a function whose true cost is known.

Workload (a) runs as a script (see `script_runner.py`), followed in each repetition by
`calibrated_busy(n)`, a pure-Python loop whose `n` is calibrated unprofiled, in the same process, so that
it takes 25% of the cell (the quickstart body plus the loop). Under each profiler the loop's true share is
also measured with perf_counter (a profiler slows the loop and the rest of the cell differently). The
attributed share is the loop's inclusive time over the cell function's, from the profile itself: ours
(`wb.profile()`, py-spy at 100 Hz), pyinstrument (`Profiler()`), cProfile (`cumtime`), and Scalene
(`scalene run --cpu-only --off` with `scalene_profiler.start()/stop()`: its per-function CPU percent of
the profiled time, read from its JSON profile).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from script_runner import run_script, write_script
from workloads import workloads

SHARE = 0.25
TOOLS = ("ours", "pyinstrument", "scalene", "cprofile")
NAMES = {
    "ours": "%%fmprofile (py-spy)",
    "pyinstrument": "pyinstrument",
    "scalene": "Scalene",
    "cprofile": "cProfile",
}


def scalene_share(profile: dict[str, Any]) -> float | None:
    """calibrated_busy's share of the profiled CPU time in a Scalene JSON profile."""
    busy = None
    for file in profile.get("files", {}).values():
        for function in file.get("functions", []):
            if function.get("line") == "calibrated_busy":
                busy = sum(float(function.get(k, 0.0)) for k in ("n_cpu_percent_python", "n_cpu_percent_c"))
                busy += float(function.get("n_sys_percent", 0.0))
    return None if busy is None else busy / 100.0


def run(reps: int) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        script = write_script(workloads()["a"], scratch)
        for tool in TOOLS:
            row: dict[str, Any] = {"tool": NAMES[tool], "target_share": SHARE}
            try:
                profile = scratch / "scalene.json" if tool == "scalene" else None
                result = run_script(
                    script, f"accuracy:{tool}", reps, scratch / "out.json", [str(SHARE)], profile
                )
                row["true_share"] = result["true_share"]
                if profile is not None:
                    share = scalene_share(json.loads(profile.read_text()))
                    if share is None:
                        row["error"] = "calibrated_busy not in Scalene's profile"
                    result["attributed_share"] = share
                row["attributed_share"] = result.get("attributed_share")
                if row["attributed_share"] is not None:
                    row["error_pp"] = 100 * (row["attributed_share"] - row["true_share"])
            except Exception as error:
                row["error"] = f"{type(error).__name__}: {str(error)[-300:]}"
            rows.append(row)
    return rows


if __name__ == "__main__":
    print(json.dumps(run(2), indent=2))
