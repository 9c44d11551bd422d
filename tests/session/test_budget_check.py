"""`workbench check`, `workbench profile --budget` and `workbench runs --name` on real saved runs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import workbench as wb
from tests.test_cli import cli


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("store")
    for seconds in (0.05, 0.25):  # a baseline, then the same block made slower
        with wb.profile(name="guarded", store=root, cpu=False):
            time.sleep(seconds)
    return root


def test_check_passes_with_exit_0_and_a_table(store: Path) -> None:
    out = cli(
        "check",
        "guarded",
        "--budget",
        "wall_s<=5, stages.per_kind.cell.wall_ms>=200; wall_s>0.2",
        store=store,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[1].split() == ["budget", "limit", "actual", "baseline", "result"]
    assert lines[2].split()[0] == "wall_s<=5" and lines[2].split()[-1] == "pass"
    assert "budget: all 3 passed" in out.stdout


def test_check_fails_with_exit_1_on_a_slow_run(store: Path) -> None:
    out = cli("check", "guarded", "--budget", "wall_s<=0.1", store=store)
    assert out.returncode == 1, out.stderr
    row = out.stdout.splitlines()[2].split()
    assert row[0] == "wall_s<=0.1" and row[1] == "0.1" and float(row[2]) >= 0.25 and row[-1] == "FAIL"
    assert "budget: 1 of 1 FAILED" in out.stdout


def test_check_relative_to_the_previous_run(store: Path) -> None:
    out = cli("check", "-1", "--baseline", "-1", "--budget", "wall_s<=+10%", store=store)
    assert out.returncode == 1, out.stderr
    baseline_id = wb.runs(store)["id"].iloc[0]
    assert f"(baseline guarded {baseline_id})" in out.stdout and "allowed +10%" in out.stdout
    fine = cli("check", "-1", "--baseline", "-1", "--budget", "wall_s<=+2000%", store=store)
    assert fine.returncode == 0, fine.stdout + fine.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("guarded", "--budget", "wall_s<=fast"), "expected a number"),
        (("no-such-run", "--budget", "wall_s<=1"), "no run 'no-such-run'"),
        (("guarded", "--baseline", "nope", "--budget", "wall_s<=+5%"), "no run 'nope'"),
        (("guarded", "--budget", "wall_s<=+5%"), "need --baseline"),
        (("guarded",), "--budget"),
    ],
)
def test_check_usage_errors_exit_2(store: Path, args: tuple[str, ...], message: str) -> None:
    out = cli("check", *args, store=store)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_budget_error_shows_the_caret(store: Path) -> None:
    out = cli("check", "guarded", "--budget", "wall_s<=1x", store=store)
    assert out.returncode == 2
    assert "  wall_s<=1x\n" + " " * 11 + "^" in out.stderr


def test_profile_with_a_failing_budget_exits_1(tmp_path: Path) -> None:
    script = tmp_path / "slow.py"
    script.write_text("import time\ntime.sleep(0.2)\n")
    out = cli("profile", "--no-cpu", "--quiet", "--budget", "wall_s<=0.1", str(script), store=tmp_path / "s")
    assert out.returncode == 1, out.stderr
    assert "FAIL" in out.stderr and "wall_s<=0.1" in out.stderr
    assert wb.runs(tmp_path / "s")["id"].size == 1
    ok = cli("profile", "--no-cpu", "--quiet", "--budget", "wall_s<=5", str(script), store=tmp_path / "s")
    assert ok.returncode == 0 and "budget: all 1 passed" in ok.stderr


def test_runs_by_name_in_time_order(store: Path) -> None:
    out = cli("runs", "--name", "guarded", store=store)
    assert out.returncode == 0, out.stderr
    ids = list(wb.history("guarded", store=store)["id"])
    lines = out.stdout.splitlines()
    assert "ttft_p90" in lines[0] and [line.split()[0] for line in lines[1:]] == ids
    walls = [float(line.split()[2]) for line in lines[1:]]
    assert walls[0] < 0.2 <= walls[1]
    assert "no runs named 'x'" in cli("runs", "--name", "x", store=store).stdout
