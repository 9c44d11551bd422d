"""Reading a large torch.profiler (Kineto) trace: our importer against Holistic Trace Analysis' parser.

Builds a trace of 1e6 complete ("X") events by repeating diff_control_cuda.json.gz's events (each copy
shifted by the trace's span, correlation ids offset so they stay unique), gzips it into a temporary
folder, then times each parser in its own subprocess so that the peak RSS it reports is its own. Last,
the whole import (convert, GPU metrics, save, trace.json and report.html, the notebook output) is timed,
and several ranks' traces (each a copy of diff_control_cuda with its own rank) are imported as one run by
`wb.load_kineto(paths)`: in one process, then through a process pool.

    .venv/bin/python benchmarks/bench_kineto.py [--events 1000000] [--ranks 8]

HTA is installed into benchmarks/.venv-hta on the first run (never into the project's .venv: its pins
would fight ours). It needs no torch; its trace parser needs only numpy, pandas, psutil and PyYAML, so the
package goes in with --no-deps plus those four.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "data" / "kineto" / "diff_control_cuda.json.gz"
HTA_VENV = ROOT / "benchmarks" / ".venv-hta"
RESULTS = ROOT / "benchmarks" / "results"
HTA_PACKAGES = ["holistictraceanalysis==0.5.0"]
HTA_PARSER_DEPS = ["numpy", "pandas", "psutil", "pyyaml"]

# Peak RSS of the measuring process itself, prepended to each script below: VmHWM belongs to its own memory
# map, which exec makes anew. ru_maxrss would not do: Linux carries the parent's peak across fork and exec
# into it, and this script holds the whole trace it built as Python objects (ours read 756 MB that way,
# where it needs ~350).
PEAK = """
def peak_mb():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

OURS = """
import json, resource, sys, time
from workbench.importers.kineto import ops_from_kineto, read_kineto, KinetoClockMap
usage0 = resource.getrusage(resource.RUSAGE_SELF)
cpu0 = usage0.ru_utime + usage0.ru_stime
start = time.perf_counter()
trace = read_kineto(sys.argv[1])
table = ops_from_kineto(trace, KinetoClockMap.from_origin_ns(trace.start_ns))
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime - cpu0
print(json.dumps({"seconds": seconds, "cpu_s": cpu, "peak_mb": peak_mb(), "events": len(table)}))
"""

# From the file to a saved run with its dashboard: what `workbench import` does, step by step.
END_TO_END = """
import json, resource, sys, tempfile, time
from pathlib import Path
from workbench.analysis.gpu import gpu_metrics
from workbench.importers.kineto import read_kineto, run_from_kineto
from workbench.render import notebook_bundle
from workbench.session import write_artifacts
from workbench.store import rundir
steps = {}
def timed(name, call):
    start = time.perf_counter()
    value = call()
    steps[name] = time.perf_counter() - start
    return value
run = timed("read and convert", lambda: run_from_kineto(read_kineto(sys.argv[1])))
run.metrics["gpu"] = timed("GPU metrics", lambda: gpu_metrics(run.recording, (0, run.duration_ns)))
with tempfile.TemporaryDirectory() as folder:
    path = timed("save run (ops.npz)", lambda: rundir.save_run(run, Path(folder)))
    timed("trace.json, report.html", lambda: write_artifacts(run, path))
    sizes = {p.name: p.stat().st_size / 1e6 for p in path.iterdir()}
bundle = timed("notebook output", lambda: notebook_bundle(run))
sizes["notebook output"] = len(json.dumps(bundle)) / 1e6
result = {"steps": steps, "sizes_mb": sizes, "peak_mb": peak_mb()}
print(json.dumps({**result, "events": len(run.recording.ops)}))
"""

# parse_trace_file is HTA's one-file entry point (TraceAnalysis and Trace call it once per rank).
HTA = """
import json, logging, resource, sys, time
from hta.common.trace import parse_trace_file
logging.disable(logging.WARNING)
usage0 = resource.getrusage(resource.RUSAGE_SELF)
cpu0 = usage0.ru_utime + usage0.ru_stime
start = time.perf_counter()
meta, frame, symbols = parse_trace_file(sys.argv[1])
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime - cpu0
print(json.dumps({"seconds": seconds, "cpu_s": cpu, "peak_mb": peak_mb(), "events": len(frame)}))
"""


# Several ranks as one run: `mode` "serial" parses them one after another here, "pool" through a process
# pool of one worker per CPU. Peaks: this process's, and the largest worker's maximum RSS (which counts
# the pages a forked worker shares with this process).
RANKS = """
import json, os, resource, sys, time
from concurrent.futures import ProcessPoolExecutor
import workbench as wb
mode, paths = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
if mode == "pool":
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        run = wb.load_kineto(paths, save=False, executor=pool)
else:
    run = wb.load_kineto(paths, save=False, workers=1)
seconds = time.perf_counter() - start
own = peak_mb()
workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
result = {"mode": mode, "ranks": len(paths), "seconds": seconds, "ranks_per_s": len(paths) / seconds}
result.update(peak_mb=own, worker_peak_mb=workers, workers=os.cpu_count() if mode == "pool" else 0)
print(json.dumps({**result, "events": len(run.recording.ops)}))
"""


def ranks_available() -> bool:
    """Whether this checkout imports several ranks as one run (`wb.load_kineto(list_of_paths)`)."""
    import importlib.util

    sys.path.insert(0, str(ROOT))
    try:
        return importlib.util.find_spec("workbench.importers.ranks") is not None
    finally:
        sys.path.remove(str(ROOT))


def build_rank_traces(ranks: int, folder: Path) -> list[Path]:
    """`ranks` gzipped copies of the source trace, each with its own rank in distributedInfo."""
    with gzip.open(SOURCE) as file:
        trace = json.load(file)
    events = json.dumps(trace.pop("traceEvents"))
    paths = []
    for rank in range(ranks):
        info = dict(trace.get("distributedInfo") or {}, rank=rank, world_size=ranks)
        head = json.dumps({**trace, "distributedInfo": info})
        path = folder / f"rank-{rank}.json.gz"
        path.write_bytes(gzip.compress(f'{head[:-1]}, "traceEvents": {events}}}'.encode(), 6))
        paths.append(path)
    return paths


def measure_ranks(paths: list[Path]) -> list[dict[str, Any]]:
    rows = []
    for mode in ("serial", "pool"):
        done = subprocess.run(
            [sys.executable, "-c", PEAK + RANKS, mode, *map(str, paths)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"ranks ({mode}) failed:\n{done.stderr[-3000:]}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return rows


def build_trace(events: int, folder: Path) -> tuple[Path, int]:
    """A gzipped trace of at least `events` complete events made of shifted copies of the source trace;
    returns its path and its number of events of every kind."""
    with gzip.open(SOURCE) as file:
        trace = json.load(file)
    originals = trace["traceEvents"]
    timed = [e for e in originals if isinstance(e.get("ts"), int | float)]
    span = max(e["ts"] + e.get("dur", 0) for e in timed) - min(e["ts"] for e in timed) + 1000
    ids = [e["args"]["correlation"] for e in originals if "correlation" in e.get("args", {})]
    id_step = max(ids) + 1
    # Count what a parser keeps: complete ("X") events; flow and metadata events come along.
    complete = sum(1 for e in originals if e.get("ph") == "X")
    copies = max(1, -(-events // complete))
    out: list[dict[str, Any]] = []
    for copy in range(copies):
        for event in originals:
            if event.get("ph") == "M" and copy:
                continue
            shifted = dict(event, ts=event["ts"] + copy * span) if "ts" in event else dict(event)
            args = event.get("args")
            if isinstance(args, dict) and "correlation" in args:
                shifted["args"] = dict(args, correlation=args["correlation"] + copy * id_step)
            if event.get("ph") in ("s", "f") and "id" in event:
                shifted["id"] = event["id"] + copy * id_step
            out.append(shifted)
    trace["traceEvents"] = out
    path = folder / "large_trace.json.gz"
    with gzip.open(path, "wt", compresslevel=6) as file:
        json.dump(trace, file)
    return path, len(out)


def ensure_hta() -> Path:
    python = HTA_VENV / "bin" / "python"
    check = [str(python), "-c", "import hta.common.trace"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    venv.create(HTA_VENV, with_pip=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--no-deps", *HTA_PACKAGES], check=True)
    subprocess.run([*pip, *HTA_PARSER_DEPS], check=True)
    subprocess.run(check, check=True)
    return python


def measure(python: Path, code: str, trace: Path) -> dict[str, Any]:
    done = subprocess.run(
        [str(python), "-c", PEAK + code, str(trace)], capture_output=True, text=True, cwd=ROOT, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{python} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def machine() -> dict[str, Any]:
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text().splitlines()
                if "model name" in line
            ),
            "",
        )

    return {
        "nproc": os.cpu_count(),
        "cpu": cpu or platform.processor(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_results(
    rows: list[dict[str, Any]],
    events: int,
    size_mb: float,
    end_to_end: dict[str, Any] | None,
    ranks: list[dict[str, Any]] | None = None,
) -> None:
    info = machine()
    date = datetime.date.today().isoformat()
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "date": date,
        "machine": info,
        "events": events,
        "gzip_mb": size_mb,
        "results": rows,
        "end_to_end": end_to_end,
        "ranks": ranks,
    }
    (RESULTS / "kineto.json").write_text(json.dumps(payload, indent=2) + "\n")
    lines = [
        f"# Reading a {events:,}-event Kineto trace ({size_mb:.1f} MB gzipped)",
        "",
        f"{date}; {info['nproc']} CPUs, {info['cpu']}; Python {info['python']}. "
        "Each parser runs in its own process; peak is that process's maximum RSS. "
        "CPU s (user + system) is the fairer number on a shared machine.",
        "",
        "| parser | events | wall s | CPU s | peak MB | × ours (wall) | × ours (memory) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['parser']} | {row['events']:,} | {row['seconds']:.2f} | {row['cpu_s']:.2f} "
            f"| {row['peak_mb']:.0f} "
            f"| {row['time_ratio']:.1f} | {row['memory_ratio']:.1f} |"
        )
    if len(rows) == 2:
        lines += ["", summary(rows)]
    if end_to_end is not None:
        lines += _end_to_end_lines(end_to_end)
    if ranks:
        lines += _rank_lines(ranks)
    (RESULTS / "kineto.md").write_text("\n".join(lines) + "\n")


def _end_to_end_lines(result: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"From the file to a saved run and its dashboard ({result['events']:,} events kept, "
        f"peak {result['peak_mb']:.0f} MB):",
        "",
        "| step | s |",
        "| --- | ---: |",
    ]
    lines += [f"| {step} | {seconds:.2f} |" for step, seconds in result["steps"].items()]
    lines += ["", "| output | MB |", "| --- | ---: |"]
    lines += [f"| {name} | {size:.1f} |" for name, size in sorted(result["sizes_mb"].items())]
    return lines


def summary(rows: list[dict[str, Any]]) -> str:
    """Ours against HTA, measured in the same run: how many times faster, and the share of its peak."""
    ours, hta = rows[0], rows[1]
    return (
        f"Ours vs HTA: {hta['seconds'] / ours['seconds']:.1f}x faster ({ours['seconds']:.2f} s vs "
        f"{hta['seconds']:.2f} s wall; {hta['cpu_s'] / ours['cpu_s']:.1f}x in CPU time), "
        f"peak memory {ours['peak_mb']:.0f} MB vs {hta['peak_mb']:.0f} MB "
        f"({ours['peak_mb'] / hta['peak_mb']:.0%} of HTA's)."
    )


def _rank_lines(ranks: list[dict[str, Any]]) -> list[str]:
    lines = [
        "",
        f"{ranks[0]['ranks']} ranks (copies of diff_control_cuda) as one run, `wb.load_kineto(paths)` "
        f"({ranks[0]['events']:,} events kept):",
        "",
        "| how | s | ranks/s | peak MB (this process) | peak MB (largest worker) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row in ranks:
        how = "one process" if row["mode"] == "serial" else f"process pool, {row['workers']} workers"
        worker = f"{row['worker_peak_mb']:.0f}" if row["mode"] == "pool" else "-"
        lines.append(
            f"| {how} | {row['seconds']:.2f} | {row['ranks_per_s']:.2f} | {row['peak_mb']:.0f} | {worker} |"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--no-hta", action="store_true", help="time only our importer")
    parser.add_argument(
        "--no-end-to-end", action="store_true", help="skip saving the run and rendering its dashboard"
    )
    parser.add_argument("--ranks", type=int, default=8, help="ranks imported as one run (0: skip)")
    options = parser.parse_args()
    if not SOURCE.exists():
        print(f"missing {SOURCE}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as folder:
        trace, events = build_trace(options.events, Path(folder))
        size_mb = trace.stat().st_size / 1e6
        print(f"{events:,} events, {size_mb:.1f} MB gzipped")
        parsers = {"workbench (msgspec)": (Path(sys.executable), OURS)}
        if not options.no_hta:
            parsers["HTA parse_trace_file"] = (ensure_hta(), HTA)
        rows = [{"parser": name, **measure(python, code, trace)} for name, (python, code) in parsers.items()]
        end_to_end = None if options.no_end_to_end else measure(Path(sys.executable), END_TO_END, trace)
        ranks = None
        if options.ranks > 0 and not ranks_available():
            print("multi-rank import (workbench.importers.ranks) is not in this checkout: skipped")
        elif options.ranks > 0:
            ranks = measure_ranks(build_rank_traces(options.ranks, Path(folder)))
    ours = rows[0]
    for row in rows:
        row["time_ratio"] = row["seconds"] / ours["seconds"]
        row["memory_ratio"] = row["peak_mb"] / ours["peak_mb"]
        print(
            f"{row['parser']:<24} {row['events']:>10,} {row['seconds']:8.2f} s {row['peak_mb']:8.0f} MB "
            f"{row['cpu_s']:8.2f} s CPU {row['time_ratio']:6.1f}x"
        )
    if len(rows) == 2:
        print(summary(rows))
    if end_to_end is not None:
        for step, seconds in end_to_end["steps"].items():
            print(f"  {step:<28} {seconds:6.2f} s")
        print("  sizes (MB): " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(end_to_end["sizes_mb"].items())))
    for row in ranks or []:
        print(
            f"{row['ranks']} ranks, {row['mode']:<6} {row['seconds']:8.2f} s {row['ranks_per_s']:6.2f} "
            f"ranks/s, peak {row['peak_mb']:.0f} MB"
            + (f" (largest worker {row['worker_peak_mb']:.0f} MB)" if row["worker_peak_mb"] else "")
        )
    write_results(rows, events, size_mb, end_to_end, ranks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
