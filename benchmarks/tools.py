"""How each profiler wraps a cell in a kernel, the way its own documentation says to use it.

A `Tool` turns the timed body into the cell to execute. The body times itself (perf_counter around the
workload only, inside any profiler's start and stop) and leaves the seconds in `builtins`, where the
runner reads them with a second, tiny cell: what a profiler costs before or after the cell (start-up,
saving, rendering) is not counted, as for every tool alike.

py-spy is the one tool outside the kernel: `py-spy record --nonblocking --pid PID` is started before
the cell (and waited for until it samples) and stopped with SIGINT after it, as its README shows.
Scalene is not here: its `%%scalene` magic runs the cell as a separate file in its own namespace
(the cell cannot see the notebook's model), so it is run on the workload as a script (see
`script_runner.py`).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import textwrap
import threading
from dataclasses import dataclass, field
from pathlib import Path

TIME_START = "import builtins as _bench_b, time as _bench_t\n_bench_t0 = _bench_t.perf_counter()\n"
TIME_END = "\n_bench_b._bench_elapsed = _bench_t.perf_counter() - _bench_t0\n"
READ_ELAPSED = "print(__import__('builtins')._bench_elapsed)"


@dataclass
class Tool:
    name: str
    magic: str = ""  # a cell magic line, with its newline
    setup: list[str] = field(default_factory=list)  # kernel cells run once, before the warm-up
    wrap: str | None = None  # a `with` statement the timed body goes under
    external: str | None = None  # "py-spy"
    note: str = ""

    def cell(self, body: str) -> str:
        timed = TIME_START + body.strip("\n") + TIME_END
        if self.wrap is not None:
            timed = self.wrap + "\n" + textwrap.indent(timed, "    ")
        return self.magic + timed


LOAD = "%load_ext workbench"
# Workload (a) only: the live view off, for the live view's cost (section 2).
QUIET = Tool("%%fmprofile --quiet", "%%fmprofile --quiet --name bench-quiet\n", [LOAD], note="no live view")


def kernel_tools(scratch: Path) -> dict[str, Tool]:
    """The variants measured in the kernel, in the order each round runs them."""
    return {
        "unprofiled": Tool("unprofiled"),
        "%%fmprofile": Tool(
            "%%fmprofile", "%%fmprofile --name bench\n", [LOAD], note="defaults (live view on)"
        ),
        "%%fmprofile --kernels": Tool(
            "%%fmprofile --kernels", "%%fmprofile --kernels --name bench-kernels\n", [LOAD]
        ),
        "%%fmprofile --rate 1000": Tool(
            "%%fmprofile --rate 1000", "%%fmprofile --rate 1000 --name bench-1000\n", [LOAD]
        ),
        "cProfile (%%prun)": Tool("cProfile (%%prun)", "%%prun -q\n", note="IPython's %%prun -q"),
        "pyinstrument": Tool(
            "pyinstrument",
            "%%pyinstrument\n",
            ["%load_ext pyinstrument"],
            note="%load_ext pyinstrument; %%pyinstrument",
        ),
        "py-spy record": Tool(
            "py-spy record",
            external="py-spy",
            note="py-spy record --nonblocking --pid (100 Hz), outside the kernel",
        ),
        "torch.profiler": Tool(
            "torch.profiler",
            wrap=(
                "import torch.profiler as _bench_tp\n"
                "with _bench_tp.profile(activities=[_bench_tp.ProfilerActivity.CPU], record_shapes=True):"
            ),
            note="with torch.profiler.profile(activities=[CPU], record_shapes=True)",
        ),
        "viztracer": Tool(
            "viztracer",
            f"%%viztracer --output_file {scratch / 'viztracer.json'}\n",
            ["%load_ext viztracer"],
            note="%load_ext viztracer; %%viztracer",
        ),
    }


def py_spy_binary() -> str:
    here = Path(os.environ.get("VIRTUAL_ENV", "")) / "bin" / "py-spy"
    found = shutil.which("py-spy") or (str(here) if here.exists() else None)
    if found is None:
        import sys

        candidate = Path(sys.executable).parent / "py-spy"
        found = str(candidate) if candidate.exists() else None
    if found is None:
        raise FileNotFoundError("py-spy not found")
    return found


class PySpyRecord:
    """`py-spy record --nonblocking` attached to a process for the duration of a `with` block."""

    def __init__(self, pid: int, output: Path) -> None:
        self.argv = [py_spy_binary(), "record", "--nonblocking", "--pid", str(pid), "--format", "speedscope"]
        self.argv += ["--output", str(output)]
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PySpyRecord:
        self.process = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        started = threading.Event()

        def watch() -> None:
            # py-spy prints "py-spy> Sampling process 100 times a second..." (stdout) once it samples.
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                if b"Sampling process" in line:
                    started.set()
            started.set()

        threading.Thread(target=watch, daemon=True).start()
        started.wait(20)
        if self.process.poll() is not None:
            raise RuntimeError(f"py-spy record exited with {self.process.returncode}")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
