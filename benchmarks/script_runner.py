"""A workload as a standalone script, for the tools that are run on a program rather than in a kernel.

Scalene's documented notebook magic (`%%scalene`) runs the cell as a separate file in a namespace of its
own, so the notebook's model and functions are not there; Scalene is therefore run the way its README
shows for programs, `python -m scalene run --cpu-only --off prog.py`, with `scalene_profiler.start()` /
`stop()` around the timed repetitions (setup and warm-up are not profiled), against the same script run
plainly. The accuracy benchmark uses the same scripts (see `accuracy.py`).

The script: the workload's setup cells, its body as `bench_cell()`, then `MAIN` below, which warms up,
times each repetition with perf_counter and writes JSON to the path given.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from workloads import Workload, as_function, script_code

ROOT = Path(__file__).resolve().parent.parent

MAIN = '''
import json as _json
import sys as _sys
import time as _time


def calibrated_busy(n):
    """A pure-Python loop whose cost is calibrated against the cell (see accuracy.py)."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


_BUSY = {"n": 0, "s": 0.0}


def bench_cell_with_busy():
    bench_cell()
    start = _time.perf_counter()
    calibrated_busy(_BUSY["n"])
    _BUSY["s"] += _time.perf_counter() - start


def _timed(cell, reps):
    times = []
    for _ in range(reps):
        start = _time.perf_counter()
        cell()
        times.append(_time.perf_counter() - start)
    return times


def _calibrate(share):
    """Loop count for which calibrated_busy takes `share` of the cell with it, unprofiled."""
    cell_s = min(_timed(bench_cell, 2))
    start = _time.perf_counter()
    calibrated_busy(1_000_000)
    per_loop = (_time.perf_counter() - start) / 1_000_000
    return max(1, int(cell_s * share / (1 - share) / per_loop))


def _main():
    mode, reps, out = _sys.argv[1], int(_sys.argv[2]), _sys.argv[3]
    result = {"mode": mode}
    if mode in ("plain", "scalene"):
        bench_cell()  # warm-up
        if mode == "scalene":
            from scalene import scalene_profiler

            scalene_profiler.start()
        result["times"] = _timed(bench_cell, reps)
        if mode == "scalene":
            scalene_profiler.stop()
    else:
        tool = mode.split(":", 1)[1]
        share = float(_sys.argv[4])
        bench_cell()  # warm-up
        _BUSY["n"] = _calibrate(share)
        result.update(_accuracy(tool, reps))
    with open(out, "w") as file:
        _json.dump(result, file)


def _accuracy(tool, reps):
    """Run the cell with the busy function `reps` times under `tool`; the true and attributed shares."""
    _BUSY["s"] = 0.0
    run = profiler = None
    if tool == "ours":
        import tempfile

        folder = tempfile.mkdtemp()
        context = wb.profile(store=folder, name="accuracy")
        run = context.__enter__()
    elif tool == "pyinstrument":
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
    elif tool == "cprofile":
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    elif tool == "scalene":
        from scalene import scalene_profiler

        scalene_profiler.start()
    times = _timed(bench_cell_with_busy, reps)
    result = {"true_share": _BUSY["s"] / sum(times), "times": times}
    if tool == "ours":
        context.__exit__(None, None, None)
        result["attributed_share"] = _ours_share(run.recording)
    elif tool == "pyinstrument":
        profiler.stop()
        result["attributed_share"] = _pyinstrument_share(profiler.last_session.root_frame())
    elif tool == "cprofile":
        profiler.disable()
        result["attributed_share"] = _cprofile_share(profiler)
    elif tool == "scalene":
        scalene_profiler.stop()
    return result


def _ours_share(recording):
    inclusive = {"calibrated_busy": 0, "bench_cell_with_busy": 0}
    for sample in recording.samples:
        names = {frame.function for frame in recording.stack_frames(sample.stack_id)}
        for name in inclusive:
            if name in names:
                inclusive[name] += sample.duration_ns
    return inclusive["calibrated_busy"] / max(1, inclusive["bench_cell_with_busy"])


def _pyinstrument_share(root):
    totals = {"calibrated_busy": 0.0, "bench_cell_with_busy": 0.0}
    stack = [root]
    while stack:
        frame = stack.pop()
        if frame.function in totals:
            totals[frame.function] += frame.time
            if frame.function == "calibrated_busy":
                continue
        stack.extend(frame.children)
    return totals["calibrated_busy"] / max(1e-9, totals["bench_cell_with_busy"])


def _cprofile_share(profiler):
    import pstats

    cumulative = {}
    for (_file, _line, name), (_cc, _nc, _tt, ct, _callers) in pstats.Stats(profiler).stats.items():
        cumulative[name] = cumulative.get(name, 0.0) + ct
    return cumulative.get("calibrated_busy", 0.0) / max(1e-9, cumulative.get("bench_cell_with_busy", 0.0))


_main()
'''


def write_script(workload: Workload, folder: Path) -> Path:
    path = folder / f"workload_{workload.key}.py"
    teardown = script_code(workload.teardown).replace("import workbench as wb\n", "")
    code = script_code(workload.setup) + "\n" + as_function(workload.body) + MAIN + teardown
    path.write_text(code)
    return path


def run_script(
    script: Path,
    mode: str,
    reps: int,
    out: Path,
    extra: list[str] | None = None,
    scalene_json: Path | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run `script` plainly or under Scalene (when `scalene_json` is given); its JSON result."""
    args = [mode, str(reps), str(out), *(extra or [])]
    if scalene_json is not None:
        argv = [sys.executable, "-m", "scalene", "run", "--cpu-only", "--off", "-o", str(scalene_json)]
        argv += [str(script), "---", *args]
    else:
        argv = [sys.executable, str(script), *args]
    done = subprocess.run(
        argv,
        cwd=script.parent,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"{' '.join(argv[:6])} failed ({done.returncode}): {done.stderr[-1500:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    return result
