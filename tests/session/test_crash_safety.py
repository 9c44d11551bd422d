"""Nothing recorded is lost: a kernel killed mid-cell leaves a crashed run, an interrupt or a failure while
the run is saved or analysed leaves an unanalysed one; both list, load and show."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

import workbench as wb
from tests.kernel import workbench_kernel
from workbench.model.run import Run
from workbench.options import ProfileOptions
from workbench.session import profile_session
from workbench.session.profile_session import ProfileSession
from workbench.store import load_run
from workbench.store.index import list_runs, runs_dir
from workbench.store.journal import JOURNAL_FILE, read_journal
from workbench.store.listing import listed_status

# Twenty one-second steps of pure Python, each its own span: the kill comes after the fourth.
LONG_CELL = """%%fmprofile --name doomed
import time
import workbench as wb

def spin_one_second(step):
    end = time.perf_counter() + 1.0
    n = 0
    while time.perf_counter() < end:
        n += step
    return n

for step in range(20):
    with wb.span(f"step {step}"):
        spin_one_second(step)
"""


def cli(*args: str, store: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "workbench", "--store", str(store), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def _pyspy_temp_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("workbench-pyspy-*")}


def _wait_for(condition, timeout_s: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def test_a_kernel_killed_mid_cell_leaves_a_crashed_run_that_lists_loads_and_shows(tmp_path: Path) -> None:
    store = tmp_path / "store"
    temp_before = _pyspy_temp_dirs()
    with workbench_kernel(tmp_path, store) as kernel:
        kernel.client.execute(LONG_CELL)
        run_dir = _wait_for(lambda: next(runs_dir(store).glob("*/" + JOURNAL_FILE), None), 60, "a journal")
        run_dir = run_dir.parent

        # Killed once the journal holds four finished steps: 4 s of the cell, whatever the machine's load.
        def steps_journaled() -> bool:
            journal = read_journal(run_dir)
            done = [s for s in journal.spans if s.name.startswith("step") and s.end_ns] if journal else []
            return len(done) >= 4

        _wait_for(steps_journaled, 90, "four steps in the journal")
        assert listed_status(list_runs(store)[0]) == "recording"
        pyspy = [p for p in psutil.Process(kernel.pid).children() if "py-spy" in " ".join(p.cmdline())]
        os.kill(kernel.pid, signal.SIGKILL)
        psutil.wait_procs(pyspy, timeout=30)  # py-spy sees the kernel gone and writes what it sampled

    listing = cli("runs", store=store)
    assert listing.returncode == 0, listing.stderr
    assert "doomed" in listing.stdout and "crashed" in listing.stdout

    shown = cli("show", "doomed", store=store)
    assert shown.returncode == 0, shown.stderr
    assert "crashed" in shown.stdout and "spin_one_second" in shown.stdout

    run = load_run(run_dir)
    assert run.status == "crashed" and "died while recording" in (run.status_detail or "")
    steps = {
        s.name for s in run.recording.spans if s.name.startswith("step") and not s.attrs.get("unfinished")
    }
    assert {"step 0", "step 1", "step 2", "step 3"} <= steps
    # py-spy's own output, written when the kernel died, covers at least the first 3 s of the cell.
    samples = [s for s in run.recording.samples if run.recording.stacks[s.stack_id]]
    assert samples, "no CPU samples were recovered from py-spy's output"
    covered_s = (max(s.t_ns + s.duration_ns for s in samples) - min(s.t_ns for s in samples)) / 1e9
    assert covered_s >= 3.0
    assert any(f.function == "spin_one_second" for f in run.recording.frames)
    assert run.metrics["wall_s"] >= 3.0

    # Saved whole on first load: the journal and py-spy's files are gone; nothing was left in /tmp.
    assert not (run_dir / JOURNAL_FILE).exists()
    assert sorted(p.name for p in run_dir.iterdir()) == ["events.json.gz", "run.json"]
    assert load_run(run_dir).status == "crashed"
    assert _pyspy_temp_dirs() <= temp_before


def _session(store: Path) -> ProfileSession:
    session = ProfileSession(ProfileOptions(store=str(store), cpu=False))
    session.start()
    with wb.span("work"):
        pass
    return session


def _assert_unanalysed(run: Run, why: str) -> None:
    assert run.status == "unanalysed" and why in (run.status_detail or "")
    assert run.path is not None
    loaded = load_run(run.path)
    assert loaded.status == "unanalysed" and [s.name for s in loaded.recording.spans][-1] == "work"
    assert not (run.path / JOURNAL_FILE).exists()
    assert listed_status(list_runs(run.path.parent.parent)[-1]) == "unanalysed"
    assert profile_session.last_run() is run


def test_an_interrupt_during_the_analysis_leaves_the_saved_run_unanalysed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    session = _session(tmp_path)
    monkeypatch.setattr(profile_session, "run_metrics", interrupted)
    run = session.stop()  # does not raise
    _assert_unanalysed(run, "interrupted (KeyboardInterrupt) during its analysis")
    assert any("metrics and findings may be missing" in n for n in session.notices)


def test_a_failing_analysis_leaves_the_saved_run_unanalysed_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("planted")

    session = _session(tmp_path)
    monkeypatch.setattr(profile_session, "run_metrics", broken)
    _assert_unanalysed(session.stop(), "its analysis failed (ZeroDivisionError: planted)")


def test_an_interrupt_while_the_run_is_saved_is_held_until_it_is_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_run = profile_session.rundir.save_run

    def save_then_press(run: Run, folder: Path) -> Path:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of the save
        time.sleep(0.05)
        return save_run(run, folder)

    session = _session(tmp_path)
    monkeypatch.setattr(profile_session.rundir, "save_run", save_then_press)
    run = session.stop()
    _assert_unanalysed(run, "interrupted (KeyboardInterrupt) while the run was saved")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_complete_run_has_no_journal_and_says_complete(tmp_path: Path) -> None:
    session = _session(tmp_path)
    assert session.run is not None
    run_dir = runs_dir(tmp_path) / session.run.id
    assert listed_status(read_meta_of(run_dir)) == "recording"
    run = session.stop()
    assert run.status == "complete" and run.status_detail is None and run.recorder is None
    assert not (run_dir / JOURNAL_FILE).exists()
    assert load_run(run_dir).status == "complete"


def read_meta_of(run_dir: Path) -> dict[str, object]:
    from workbench.store.rundir import read_meta

    return read_meta(run_dir)


INTERRUPTED_ANALYSIS = """
import os, signal, time
import workbench.session.profile_session as _ps
_metrics = _ps.run_metrics
def _pressed_during_analysis(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)
    return _metrics(*args, **kwargs)
_ps.run_metrics = _pressed_during_analysis
"""


def test_in_a_kernel_an_interrupt_during_the_analysis_keeps_the_run_and_the_cell_ok(tmp_path: Path) -> None:
    with workbench_kernel(tmp_path, tmp_path / "store") as kernel:
        assert kernel.execute(INTERRUPTED_ANALYSIS).status == "ok"
        cell = kernel.execute("%%fmprofile --name pressed --no-cpu\nx = sum(range(1000))\n")
        assert cell.status == "ok", cell.text()
        assert "KeyboardInterrupt" in cell.text("stderr") and "Traceback" not in cell.text()
        check = kernel.execute("import workbench as wb\nr = wb.last_run()\nprint(r.status, r.name)")
        assert check.text("stdout").strip() == "unanalysed pressed"
