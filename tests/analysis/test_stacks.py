"""Trimming the kernel, asyncio and profiler plumbing off sampled stacks."""

from __future__ import annotations

from pathlib import Path

import workbench
from workbench.analysis.stacks import is_cell_file, is_parked, trim_stack
from workbench.model import Frame

SITE = "/usr/lib/python3.11/site-packages"
RUNPY = Frame("_run_module_as_main", "<frozen runpy>", 198)
LAUNCH = Frame("launch_instance", f"{SITE}/traitlets/config/application.py", 1075)
KERNEL = Frame("start", f"{SITE}/ipykernel/kernelapp.py", 739)
LOOP = Frame("run_forever", "/usr/lib/python3.11/asyncio/base_events.py", 607)
TORNADO = Frame("_run_callback", f"{SITE}/tornado/ioloop.py", 750)
SHELL = Frame("run_cell", f"{SITE}/IPython/core/interactiveshell.py", 3048)
PLUMBING = [RUNPY, LAUNCH, KERNEL, LOOP, TORNADO, SHELL]

CELL = Frame("<module>", "/tmp/ipykernel_123/456.py", 3)
SEARCH = Frame("search", "/home/u/rag/retriever.py", 10)
HOOK = Frame("chunk", str(Path(workbench.__file__).parent / "api.py"), 108)
ENCODE = Frame("encode", "/home/u/rag/tok.py", 5)


def test_cell_file_patterns() -> None:
    assert is_cell_file("/tmp/ipykernel_123/456.py")
    assert is_cell_file("<ipython-input-3-1a2b3c>")
    assert not is_cell_file("/tmp/ipykernel_123/notes.py")
    assert not is_cell_file("/home/u/rag/retriever.py")


def test_the_cell_becomes_the_root() -> None:
    assert trim_stack([*PLUMBING, CELL, SEARCH, ENCODE]) == [CELL, SEARCH, ENCODE]


def test_workbench_frames_are_removed_everywhere() -> None:
    assert trim_stack([*PLUMBING, CELL, SEARCH, HOOK, ENCODE]) == [CELL, SEARCH, ENCODE]


def test_a_users_folder_named_workbench_is_not_the_profiler() -> None:
    mine = Frame("rank", "/home/me/workbench/rag.py", 3)
    assert trim_stack([*PLUMBING, CELL, mine]) == [CELL, mine]


def test_library_frames_below_the_cell_stay() -> None:
    # The cell itself calls asyncio.run: those asyncio frames are the user's work, not the kernel's.
    runner = Frame("run", "/usr/lib/python3.11/asyncio/runners.py", 190)
    user_coroutine = Frame("main", "/tmp/ipykernel_123/456.py", 9)
    assert trim_stack([*PLUMBING, CELL, runner, LOOP, user_coroutine]) == [CELL, runner, LOOP, user_coroutine]


def test_a_pure_plumbing_stack_trims_to_nothing() -> None:
    poll = Frame("poll", "/usr/lib/python3.11/selectors.py", 469)
    zmq = Frame("_handle_events", f"{SITE}/zmq/eventloop/zmqstream.py", 600)
    assert trim_stack([*PLUMBING, zmq, poll]) == []
    assert trim_stack([]) == []


def test_a_worker_thread_without_a_cell_loses_its_leading_plumbing() -> None:
    bootstrap = Frame("_bootstrap", "/usr/lib/python3.11/threading.py", 995)
    worker = Frame("_worker", "/usr/lib/python3.11/concurrent/futures/thread.py", 83)
    assert trim_stack([bootstrap, worker, SEARCH, ENCODE]) == [SEARCH, ENCODE]


def test_the_profilers_own_threads_trim_to_nothing() -> None:
    # The journal writer compressing, the live view serializing Bokeh, a lazy import in the telemetry
    # thread: below the profiler's thread function, none of it is the user's (it used to show as
    # "get_data", "dumps", "serialize" in the cell's flame graph and as "only in B" in compare).
    bootstrap = Frame("_bootstrap", "/usr/lib/python3.11/threading.py", 995)
    package = Path(workbench.__file__).parent
    journal = Frame("_loop", str(package / "session" / "journaling.py"), 50)
    live = Frame("_loop", str(package / "session" / "live" / "updater.py"), 130)
    dumps = Frame("dumps", "/usr/lib/python3.11/json/__init__.py", 231)
    serialize = Frame("serialize", f"{SITE}/bokeh/core/serialization.py", 250)
    get_data = Frame("get_data", "<frozen importlib._bootstrap_external>", 1130)
    assert trim_stack([bootstrap, journal, dumps]) == []
    assert trim_stack([bootstrap, live, serialize]) == []
    assert trim_stack([bootstrap, journal, get_data]) == []
    # The profiler's work on the kernel's thread outside the cell (starting collectors) is not the user's.
    magic = Frame("fmprofile", str(package / "notebook" / "magics.py"), 80)
    assert trim_stack([*PLUMBING, magic, Frame("start", "/usr/lib/python3.11/threading.py", 964)]) == []
    # A user's thread that calls into an instrumented library keeps its stack (the hook's frame goes).
    assert trim_stack([bootstrap, SEARCH, HOOK, ENCODE]) == [SEARCH, ENCODE]


def test_an_anchor_file_is_a_root_like_a_cell() -> None:
    launcher = Frame("main", "/home/u/launcher.py", 1)
    script = Frame("<module>", "/home/u/pipeline.py", 1)
    frames = [RUNPY, launcher, script, SEARCH]
    assert trim_stack(frames, anchor_files=frozenset({"/home/u/pipeline.py"})) == [script, SEARCH]
    # Without the anchor only the leading plumbing goes.
    assert trim_stack(frames) == [launcher, script, SEARCH]


def test_a_thread_parked_in_a_stdlib_wait_is_recognised() -> None:
    monitor = Frame("run", f"{SITE}/tqdm/_monitor.py", 60)
    wait = Frame("wait", "/usr/lib/python3.11/threading.py", 331)
    assert is_parked([monitor, wait])
    assert not is_parked([monitor])
    assert not is_parked([])


def test_machinery_that_runs_the_cells_body_again_keeps_the_body() -> None:
    # --repeat: the cell calls the loop, whose CellBody.run executes the body (compiled as a cell file).
    package = Path(workbench.__file__).parent
    loop = Frame("run_repetitions", str(package / "notebook" / "cell_loop.py"), 50)
    body = Frame("run", str(package / "notebook" / "cell_body.py"), 51)
    inner = Frame("<module>", "/tmp/ipykernel_123/789.py", 2)
    assert trim_stack([*PLUMBING, CELL, loop, body, inner, SEARCH]) == [CELL, inner, SEARCH]
    # Between repetitions, the loop's own work (no user code below it) is not the user's.
    assert trim_stack([*PLUMBING, CELL, loop, Frame("now_ns", str(package / "clock.py"), 25)]) == []
