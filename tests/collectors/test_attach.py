"""`--attach PID`: py-spy on another local process, into lanes of its own (not the cell's samples)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import workbench as wb
from workbench.analysis.cpu import FlameNode
from workbench.collectors.attach import AttachedPySpy, check_target, process_label
from workbench.collectors.pyspy import PySpyCollector
from workbench.render.attached_view import attached_views
from workbench.store import load_run

CHILD = """
import sys, threading, time
def attached_child_distinctive_spin():
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        sum(i * i for i in range(1000))
def parked():
    threading.Event().wait(120)
threading.Thread(target=parked, daemon=True).start()
print("ready", flush=True)
attached_child_distinctive_spin()
"""

pytestmark = pytest.mark.skipif(not PySpyCollector().is_available()[0], reason="py-spy cannot attach here")


@pytest.fixture
def child() -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    yield process
    process.kill()
    process.wait()


def cell_own_distinctive_work(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sum(i * i for i in range(1000))


@pytest.mark.timeout(60)
def test_attached_frames_land_in_their_own_lanes(child: subprocess.Popen[str], tmp_path: Path) -> None:
    with wb.profile("attached", attach=child.pid, store=tmp_path, rate=50) as run:
        cell_own_distinctive_work(0.6)
    status = {s.name: s for s in run.collectors}[f"attach:{child.pid}"]
    assert status.started, status.reason
    [attached] = run.attached
    assert attached.pid == child.pid and attached.label.startswith(f"pid {child.pid} (python")
    functions = set(attached.samples.function)
    assert "attached_child_distinctive_spin" in set(attached.samples["stack"].str.split(";").explode())
    assert "cell_own_distinctive_work" not in functions
    # The parked thread is idle, left out; the thread bootstrap is cut off the stacks.
    assert not any("Thread._bootstrap" in s for s in attached.samples["stack"])
    # The cell's own profile has none of the child's frames.
    assert "attached_child_distinctive_spin" not in set(run.samples["stack"].str.split(";").explode())
    assert "cell_own_distinctive_work" in set(run.samples["stack"].str.split(";").explode())
    summary = run.metrics["attached"][0]
    assert summary["pid"] == child.pid and summary["samples"] > 0
    # Saved with the run, and drawn in lanes of its own.
    again = load_run(run.path)  # type: ignore[arg-type]
    assert again.attached == run.attached
    [view] = attached_views(again)
    assert view.label == attached.label and view.threads
    assert "[thread main]" in {c.function for c in view.tree.children.values()}
    assert "attached_child_distinctive_spin" in _functions(view.tree)
    assert set(view.bars["thread"]) <= set(view.threads)


def _functions(node: FlameNode) -> set[str]:
    return {node.function}.union(*(_functions(c) for c in node.children.values()))


def test_a_missing_pid_is_a_notice_and_the_cell_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = _unused_pid()
    with wb.profile("missing", attach=missing, store=tmp_path, cpu=False) as run:
        done = True
    assert done and run.status == "complete" and not run.attached
    status = {s.name: s for s in run.collectors}[f"attach:{missing}"]
    assert not status.started and f"no process with pid {missing}" in status.reason
    err = capsys.readouterr().err
    assert f"--attach: no process with pid {missing}" in err and len(err.strip().splitlines()) == 1


def test_this_process_is_refused_with_its_reason() -> None:
    import os

    with pytest.raises(Exception, match="this process"):
        check_target(os.getpid())
    assert not AttachedPySpy(os.getpid()).is_available()[0]


def test_label_names_the_command(child: subprocess.Popen[str]) -> None:
    assert process_label(child.pid).startswith(f"pid {child.pid} (python -c")
    assert process_label(_unused_pid()) == f"pid {_unused_pid()}"


def _unused_pid() -> int:
    import os

    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1
