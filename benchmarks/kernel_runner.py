"""Interleaved repetitions of one workload under each tool, in one real Jupyter kernel.

Setup cells run once; then one warm-up round (every tool once, not counted: first generate(), Kineto's
start-up, imports), then `rounds` rounds of A B C ... in the same order. Each cell times its own body
(see `tools.py`). After each default `%%fmprofile` cell the live updater's own statistics are read.
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools import READ_ELAPSED, PySpyRecord, Tool
from workloads import Workload

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.kernel import Kernel  # noqa: E402

LIVE_STATS = (
    "import json\nfrom workbench.notebook import magics as _m\n_s = _m._profiler.last_live_stats\n"
    "print(json.dumps(None if _s is None else {'updates_per_s': _s.updates_per_s, "
    "'cpu_ms_per_s': _s.cpu_ms_per_s, 'max_tick_cpu_ms': _s.max_tick_cpu_ms, "
    "'messages_per_s': _s.messages_per_s, 'ticks': _s.ticks}))"
)


@dataclass
class KernelResult:
    times: dict[str, list[float]]
    live: list[dict[str, Any]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def _run(kernel: Kernel, code: str) -> str:
    result = kernel.execute(code, timeout=600)
    if result.status != "ok":
        raise RuntimeError(result.text()[-1500:])
    return result.text("stdout")


def _one(kernel: Kernel, tool: Tool, body: str, scratch: Path) -> float:
    _run(kernel, "__import__('builtins')._bench_elapsed = None")
    if tool.external == "py-spy":
        with PySpyRecord(kernel.pid, scratch / "py-spy.json"):
            _run(kernel, tool.cell(body))
    else:
        _run(kernel, tool.cell(body))
    return float(_run(kernel, READ_ELAPSED).strip().splitlines()[-1])


def run_workload(workload: Workload, tools: dict[str, Tool], rounds: int, live_stats: bool) -> KernelResult:
    result = KernelResult({name: [] for name in tools})
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        kernel = Kernel(cwd=scratch, env={"WORKBENCH_STORE": str(scratch / "store")})
        try:
            for cell in workload.setup:
                _run(kernel, cell)
            for name, tool in tools.items():
                try:
                    for cell in tool.setup:
                        _run(kernel, cell)
                    _one(kernel, tool, workload.body, scratch)  # warm-up
                except Exception as error:  # reported as n/a, never a number
                    result.errors[name] = f"{type(error).__name__}: {str(error).strip()[-300:]}"
            for _ in range(rounds):
                for name, tool in tools.items():
                    if name in result.errors:
                        continue
                    try:
                        result.times[name].append(_one(kernel, tool, workload.body, scratch))
                    except Exception as error:
                        result.errors[name] = f"{type(error).__name__}: {str(error).strip()[-300:]}"
                        continue
                    if live_stats and name == "%%fmprofile":
                        stats = json.loads(_run(kernel, LIVE_STATS).strip().splitlines()[-1])
                        if stats is not None:
                            result.live.append(stats)
            for cell in workload.teardown:
                _run(kernel, cell)
        finally:
            kernel.shutdown()
    return result
