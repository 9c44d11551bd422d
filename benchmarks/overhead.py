"""Overhead on the three FM workloads: each tool's median in-process time against the unprofiled one.

Per workload, the kernel tools run interleaved in one kernel (`kernel_runner.py`); Scalene runs the
workload as a script, against the same script run plainly, one process each with the repetitions inside
(`script_runner.py`): its ratio is to that plain script, not to the kernel's unprofiled cell.
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
from pathlib import Path
from typing import Any

from kernel_runner import run_workload
from script_runner import run_script, write_script
from tools import QUIET, Tool, kernel_tools
from workloads import SERVER_OPTIONS, Workload, workloads

from workbench.serve import start_server

SCALENE = "Scalene (script)"
SCALENE_NOTE = "scalene run --cpu-only --off + scalene_profiler.start()/stop(); ratio to the plain script"


def summarise(times: list[float], base: float | None) -> dict[str, Any]:
    median = statistics.median(times)
    return {
        "n": len(times),
        "median_s": median,
        "min_s": min(times),
        "max_s": max(times),
        "ratio": None if not base else median / base,
        "times_s": times,
    }


def scalene_rows(workload: Workload, reps: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        script = write_script(workload, scratch)
        try:
            with contextlib.ExitStack() as stack:
                env = {}
                if workload.key == "c":  # the server runs outside the profiled script
                    server = stack.enter_context(start_server(**SERVER_OPTIONS))  # type: ignore[arg-type]
                    env["BENCH_SERVER_URL"] = server.base_url
                plain = run_script(script, "plain", reps, scratch / "out.json", env=env)["times"]
                out, profile = scratch / "out.json", scratch / "s.json"
                profiled = run_script(script, "scalene", reps, out, scalene_json=profile, env=env)
        except Exception as error:
            return {"error": f"{type(error).__name__}: {str(error)[-300:]}"}
    base = statistics.median(plain)
    return {"plain": summarise(plain, base), "scalene": summarise(profiled["times"], base)}


def run(rounds: int, keys: str = "abc") -> dict[str, Any]:
    results: dict[str, Any] = {}
    for key, workload in workloads().items():
        if key not in keys:
            continue
        with tempfile.TemporaryDirectory() as folder:
            tools: dict[str, Tool] = kernel_tools(Path(folder))
            if key == "a":
                tools["%%fmprofile --quiet"] = QUIET
            kernel = run_workload(workload, tools, rounds, live_stats=key == "a")
        base_times = kernel.times.get("unprofiled") or []
        base = statistics.median(base_times) if base_times else None
        rows: dict[str, Any] = {}
        for name, tool in tools.items():
            if name in kernel.errors or not kernel.times[name]:
                rows[name] = {"error": kernel.errors.get(name, "no repetitions"), "note": tool.note}
            else:
                rows[name] = {**summarise(kernel.times[name], base), "note": tool.note}
        scalene = scalene_rows(workload, rounds)
        if "error" in scalene:
            rows[SCALENE] = {"error": scalene["error"], "note": SCALENE_NOTE}
        else:
            rows[SCALENE] = {**scalene["scalene"], "note": SCALENE_NOTE, "plain_script": scalene["plain"]}
        results[key] = {"title": workload.title, "rows": rows, "live": kernel.live}
    return results
