"""Writes hta_numbers.json: Holistic Trace Analysis' own numbers for the traces in this folder.

Run with HTA's interpreter (installed as benchmarks/bench_kineto.py does it, into benchmarks/.venv-hta):

    benchmarks/.venv-hta/bin/python tests/data/kineto_ranks/make_hta_numbers.py

Three views of each trace set, each with the exact call that produced it:
- "default": `TraceAnalysis(trace_dir=...)`, HTA's default, which drops GPU work launched in the last
  ProfilerStep (and work without a CPU launch in the traced steps) and rounds fractional µs inward;
- "include_last_profiler_step": the same with `include_last_profiler_step=True`;
- "all_gpu_work": HTA's parser and `BreakdownAnalysis.get_temporal_breakdown` / `CommunicationAnalysis.
  get_comm_comp_overlap` on the parsed, aligned traces without `_filter_irrelevant_gpu_kernels`: HTA's
  formulas over every GPU event, the definition `workbench` uses. Tests compare against this view.
"""

from __future__ import annotations

import gzip
import json
import logging
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import hta
from hta.analyzers.breakdown_analysis import BreakdownAnalysis
from hta.analyzers.communication_analysis import CommunicationAnalysis
from hta.common.trace import Trace
from hta.trace_analysis import TraceAnalysis

HERE = Path(__file__).resolve().parent
SETS = ["hta_sampled_2rank"]


def _records(frame: Any) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records"))


def _views(folder: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for view, include_last in (("default", False), ("include_last_profiler_step", True)):
        analysis = TraceAnalysis(trace_dir=str(folder), include_last_profiler_step=include_last)
        out[view] = {
            "temporal_breakdown": {
                "call": f"TraceAnalysis(trace_dir=DIR, include_last_profiler_step={include_last})"
                ".get_temporal_breakdown(visualize=False)",
                "result": _records(analysis.get_temporal_breakdown(visualize=False)),
            },
            "comm_comp_overlap": {
                "call": f"TraceAnalysis(trace_dir=DIR, include_last_profiler_step={include_last})"
                ".get_comm_comp_overlap(visualize=False)",
                "result": _records(analysis.get_comm_comp_overlap(visualize=False)),
            },
        }
    trace = Trace(trace_dir=str(folder))
    trace.parse_traces(use_multiprocessing=False)
    trace._align_all_ranks()  # align as load_traces does, but keep every GPU event
    trace.is_parsed = True
    setup = "t = Trace(trace_dir=DIR); t.parse_traces(use_multiprocessing=False); t._align_all_ranks()"
    out["all_gpu_work"] = {
        "temporal_breakdown": {
            "call": f"{setup}; BreakdownAnalysis.get_temporal_breakdown(t, visualize=False)",
            "result": _records(BreakdownAnalysis.get_temporal_breakdown(trace, visualize=False)),
        },
        "comm_comp_overlap": {
            "call": f"{setup}; CommunicationAnalysis.get_comm_comp_overlap(t, visualize=False)",
            "result": _records(CommunicationAnalysis.get_comm_comp_overlap(trace, visualize=False)),
        },
    }
    return out


def _raw_counts(path: Path) -> dict[str, Any]:
    """Counted from the file itself with `json`, not through any parser."""
    with gzip.open(path) as file:
        trace = json.load(file)
    categories = Counter(e.get("cat") for e in trace["traceEvents"] if e.get("ph") == "X")
    return {
        "rank": trace.get("distributedInfo", {}).get("rank"),
        "base_time_ns": trace.get("baseTimeNanoseconds"),
        "kernel_count": categories.get("kernel", 0),
        "gpu_memcpy_count": categories.get("gpu_memcpy", 0),
        "gpu_memset_count": categories.get("gpu_memset", 0),
        "fractional_us_events": sum(
            1
            for e in trace["traceEvents"]
            if e.get("ph") == "X" and (float(e.get("ts", 0)) % 1 or float(e.get("dur", 0)) % 1)
        ),
    }


def main() -> None:
    logging.disable(logging.WARNING)
    result: dict[str, Any] = {
        "hta_version": getattr(hta, "__version__", "0.5.0"),
        "python": sys.version.split()[0],
        "units": "HTA reports microseconds; times here are HTA's, as printed",
        "notes": {
            "default": "HTA's default view: GPU work launched in the last ProfilerStep is dropped, and "
            "so is GPU work whose launch is not a CPU op inside the traced steps",
            "all_gpu_work": "HTA's formulas (merge_kernel_intervals, get_kernel_type) over every event "
            "with a stream: what workbench computes, in exact ns",
        },
        "sets": {},
    }
    for name in SETS:
        folder = HERE / name
        files = sorted(folder.glob("*.json.gz"))
        result["sets"][name] = {
            "files": {p.name: _raw_counts(p) for p in files},
            "views": _views(folder),
        }
    target = HERE / "hta_numbers.json"
    target.write_text(json.dumps(result, indent=1) + "\n")
    print(target.read_text())


if __name__ == "__main__":
    main()
