"""The pytest plugin on real slow and fast blocks, run by pytester in a separate pytest process."""

from __future__ import annotations

from pathlib import Path

import pytest

import workbench as wb

pytest_plugins = ["pytester"]

BUSY = """
import time

import pytest


def busy(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        sum(range(100))
"""


def run_tests(pytester: pytest.Pytester, body: str, store: Path) -> pytest.RunResult:
    pytester.makepyfile(test_guarded=BUSY + body)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--fmprofile-store={store}")


def test_fixture_fails_a_slow_block_and_passes_a_fast_one(pytester: pytest.Pytester, tmp_path: Path) -> None:
    body = """
def test_slow(fmprofile):
    with fmprofile(budget="wall_s<=0.1", cpu=False) as run:
        busy(0.3)
    assert False, "not reached: the budget fails the test first"


def test_fast(fmprofile):
    with fmprofile(budget="wall_s<=0.5", cpu=False) as run:
        busy(0.01)
    assert run.metrics["budget"]["passed"]
"""
    result = run_tests(pytester, body, tmp_path)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*performance budget missed by 'test_slow'*", "*wall_s<=0.1*FAIL*", f"*run saved: {tmp_path}*"]
    )
    assert "not reached" not in result.stdout.str()
    saved = wb.runs(tmp_path)
    assert sorted(saved["name"]) == ["test_fast", "test_slow"]
    slow = wb.load_run("test_slow", store=tmp_path)
    assert slow.metrics["wall_s"] >= 0.3 and slow.metrics["budget"]["passed"] is False


def test_marker_profiles_the_test_body(pytester: pytest.Pytester, tmp_path: Path) -> None:
    body = """
@pytest.mark.fmbudget("wall_s<=0.1", cpu=False)
def test_slow():
    busy(0.3)


@pytest.mark.fmbudget("wall_s<=0.5", cpu=False, name="quick")
def test_fast():
    busy(0.01)


@pytest.mark.fmbudget("wall_s<=0.5", cpu=False)
def test_raises():
    raise ValueError("the test's own error wins")


@pytest.mark.fmbudget("wall_s<=soon")
def test_bad_budget():
    pass
"""
    result = run_tests(pytester, body, tmp_path)
    result.assert_outcomes(passed=1, failed=3)
    out = result.stdout.str()
    assert "performance budget missed by 'test_slow'" in out and "run saved:" in out
    assert "ValueError: the test's own error wins" in out
    assert "@pytest.mark.fmbudget: bad budget: expected a number" in out and "^" in out
    assert sorted(wb.runs(tmp_path)["name"]) == ["quick", "test_raises", "test_slow"]


def test_runs_go_to_a_temporary_directory_by_default(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_default=BUSY
        + """
def test_fast(fmprofile):
    with fmprofile(budget="wall_s<=5", cpu=False) as run:
        busy(0.01)
    print("saved at", run.path)
    assert "fmprofile" in str(run.path)
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=1)
    assert not (pytester.path / ".fmprofile").exists()
