"""Where py-spy cannot attach, the cell still runs, sampled in process, with a notice saying why."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

import workbench as wb
from tests.kernel import workbench_kernel
from workbench.collectors.pyspy import PY_SPY_ENV
from workbench.store import list_runs, load_run


def _busy_unique_fallback_function(n: int) -> int:
    total = 0
    for i in range(n):
        total += i % 7
    return total


@pytest.fixture
def refusing_py_spy(tmp_path: Path) -> Path:
    """A py-spy stand-in that fails the way py-spy does without ptrace permission."""
    fake = tmp_path / "py-spy"
    fake.write_text(
        "#!/bin/sh\necho 'Permission Denied: Try running again with elevated permissions' >&2\nexit 1\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return fake


def test_missing_py_spy_falls_back_to_the_in_process_sampler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(PY_SPY_ENV, str(tmp_path / "not-installed"))
    with wb.profile(name="fallback", store=tmp_path) as run:
        _busy_unique_fallback_function(10_000_000)
    status = run.collectors[0]
    assert status.name == "cpu:in-process" and status.started
    assert "py-spy is not installed" in status.reason
    assert "in-process sampler" in capsys.readouterr().err
    top = [f["function"] for f in run.metrics["cpu"]["top_functions"]]
    assert top[0] == "_busy_unique_fallback_function"
    assert run.metrics["cpu"]["samples"] > 10


@pytest.mark.kernel
def test_refused_attach_in_a_kernel_keeps_the_cell_running(tmp_path: Path, refusing_py_spy: Path) -> None:
    store = tmp_path / "store"
    with workbench_kernel(tmp_path, store, env={PY_SPY_ENV: str(refusing_py_spy)}) as kernel:
        result = kernel.execute(
            "%%fmprofile --name refused\nvalue = sum(i * i for i in range(2_000_000))\nvalue > 0\n"
        )
        assert result.status == "ok", result.text()
        assert [r["data"]["text/plain"] for r in result.of_type("execute_result")] == ["True"]
        notice = result.text("stderr")
        assert "in-process sampler" in notice and "Permission Denied" in notice
        assert len([line for line in notice.splitlines() if line.strip()]) == 1
        run = load_run(Path(list_runs(store)[-1]["path"]))
        assert run.collectors[0].name == "cpu:in-process"
        assert "ptrace" in run.collectors[0].reason or "Permission" in run.collectors[0].reason
        assert run.metrics["cpu"]["samples"] > 0


@pytest.fixture(autouse=True)
def _no_env_leak(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield
