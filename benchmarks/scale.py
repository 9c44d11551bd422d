"""Scale: a one-hour cell at the default rates, simulated, then stopped, saved and rendered.

In a subprocess (so its peak RSS is its own), a `Recording` is filled through the collectors' own entry
points (`intern_stack` + `add_sample`, `add_counter`, `add_span`, `add_token`) with what an hour at the
defaults records: 360,000 CPU samples (100 Hz; stacks drawn from 3,000 distinct ones over 1,500
functions, two threads), 36,000 telemetry points (four NVML series at 2.5 Hz each; 10 Hz for one), and
100,000 token events (1,000 streamed requests of 100 tokens, each an `llm` span, inside 1,000 stage
spans). Measured: the memory those events hold (tracemalloc, and the RSS growth), the run's metrics as at
the end of a cell, rendering the notebook output (and with it report.html's page) and that output's size,
then saving it as the magic does (the run directory and report.html; past 100k samples trace.json and the
speedscope file wait for the first export).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

CODE = r"""
import gc, json, random, resource, sys, tempfile, time, tracemalloc
from pathlib import Path

from workbench.analysis.cpu import cpu_metrics
from workbench.analysis.critical_path import stage_metrics
from workbench.analysis.gpu import gpu_metrics
from workbench.analysis.tokens import token_metrics
from workbench.model.events import CollectorStatus, Counter, Frame, Span, StackSample, TokenEvent
from workbench.model.recording import Recording
from workbench.model.run import Run
from workbench.model.series import nvml_series
from workbench.render import notebook_bundle
from workbench.session import write_artifacts
from workbench.store import rundir

HOUR_NS = 3600 * 10**9
rng = random.Random(0)


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6


gc.collect()
rss0 = rss_mb()
tracemalloc.start()
start = time.perf_counter()
rec = Recording()
frames = [Frame(f"function_{i}", f"/src/pipeline/module_{i % 60}.py", 10 + i % 400) for i in range(1500)]
stacks = [[frames[j] for j in sorted(rng.sample(range(1500), rng.randint(12, 40)))] for _ in range(3000)]
period = 10_000_000  # 100 Hz
for i in range(360_000):
    stack_id = rec.intern_stack(stacks[int(rng.paretovariate(1.2)) % 3000])
    rec.add_sample(StackSample(i * period, 1 + i % 2, stack_id, period))
metrics4 = [nvml_series(0, m) for m in ("util_pct", "mem_used_bytes", "power_w", "sm_clock_mhz")]
for i in range(36_000):
    rec.add_counter(Counter(metrics4[i % 4], i * (HOUR_NS // 36_000), rng.random() * 100))
span_id = 0
for r in range(1000):
    t0 = r * 3_600_000_000
    span_id += 1
    stage = span_id
    rec.add_span(Span(stage, f"stage {r % 7}", "chain", t0, t0 + 3_000_000_000, None, 1))
    span_id += 1
    request = span_id
    rec.add_span(Span(request, "chat.completions", "llm", t0 + 1000, t0 + 2_900_000_000, stage, 1,
                      {"model": "tiny", "input_tokens": 800, "max_tokens": 100, "stream": True}))
    for k in range(100):
        rec.add_token(TokenEvent(request, t0 + 200_000_000 + k * 27_000_000, 1))
rec.threads = {1: "MainThread", 2: "worker"}
build_s = time.perf_counter() - start
gc.collect()
traced_mb = tracemalloc.get_traced_memory()[0] / 1e6
tracemalloc.stop()
gc.collect()
rss_growth = rss_mb() - rss0

run = Run(id="scale-hour", name="one-hour", created="2026-01-01T00:00:00", duration_ns=HOUR_NS,
          origin_wall_s=time.time(), cell_source="pipeline()\n",
          collectors=[CollectorStatus("cpu", True, "py-spy"), CollectorStatus("tokens", True),
                      CollectorStatus("nvml", True)], recording=rec)
steps = {}
start = time.perf_counter()
run.metrics = {"wall_s": 3600.0, "cell_start_ms": 0.0, "cell_end_ms": HOUR_NS / 1e6,
               "tokens": token_metrics(rec), "stages": stage_metrics(rec),
               "cpu": cpu_metrics(rec, 360_000, 100.0)}
gpu = gpu_metrics(rec, (0, HOUR_NS), {})
if gpu is not None:
    run.metrics["gpu"] = gpu
steps["metrics_s"] = time.perf_counter() - start
# As at the end of a cell: the dashboard is drawn once (the notebook output and report.html share it),
# then the run directory and its files are written.
start = time.perf_counter()
bundle = notebook_bundle(run)
steps["render_s"] = time.perf_counter() - start
output_mb = len(json.dumps(bundle)) / 1e6
with tempfile.TemporaryDirectory() as folder:
    start = time.perf_counter()
    path = rundir.save_run(run, Path(folder))
    steps["save_run_s"] = time.perf_counter() - start
    # The magic writes no derived file at the cell's end; report.html's cost is paid on first use.
    start = time.perf_counter()
    problems = write_artifacts(run, path, ("report.html",))
    steps["report_first_use_s"] = time.perf_counter() - start
    sizes = {p.name: p.stat().st_size / 1e6 for p in path.iterdir()}
print(json.dumps({
    "build_s": build_s, "collectors_traced_mb": traced_mb, "collectors_rss_mb": rss_growth,
    "samples": len(rec.samples), "counters": len(rec.counters), "tokens": len(rec.tokens),
    "spans": len(rec.spans), "dropped": rec.dropped, **steps,
    "save_total_s": steps["save_run_s"], "problems": problems,
    "sizes_mb": sizes, "notebook_output_mb": output_mb,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure_hour() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", CODE],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=Path(__file__).resolve().parent,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    print(json.dumps(measure_hour(), indent=2))
