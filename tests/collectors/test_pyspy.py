"""py-spy's start: confirmed by its own "Sampling process" line, not by a fixed sleep."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

import workbench as wb
from workbench.collectors import pyspy


def _fake_py_spy(tmp_path: Path, script: str, shebang: str = "/bin/sh") -> Path:
    fake = tmp_path / "py-spy"
    fake.write_text(f"#!{shebang}\n" + script)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return fake


def test_an_attach_that_fails_after_the_old_fixed_wait_still_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A py-spy slow to give up (a loaded machine) used to be taken as started after 100 ms, and the cell
    # then had no CPU samples at all; now nothing counts as attached before py-spy says so.
    fake = _fake_py_spy(tmp_path, "sleep 0.4\necho 'Error: Failed to find python version' >&2\nexit 1\n")
    monkeypatch.setenv(pyspy.PY_SPY_ENV, str(fake))
    with wb.profile(name="late-failure", store=tmp_path / "store") as run:
        sum(i * i for i in range(300_000))
    status = run.collectors[0]
    assert status.name == "cpu:in-process" and status.started
    assert "Failed to find python version" in status.reason


def test_the_sampling_line_is_the_attach(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The stand-in says it samples and then waits for SIGINT like py-spy; it then writes an empty trace
    # to the path after -o.
    # In Python, not sh: a shell started with SIGINT ignored (a background job of a script, as CI may
    # run us) cannot trap it, while py-spy itself, like this stand-in, installs its own handler.
    script = (
        "import signal, sys, time\n"
        "out = sys.argv[sys.argv.index('-o') + 1]\n"
        "def stop(*_):\n"
        "    open(out, 'w').write('[]')\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGINT, stop)  # first: the collector may send SIGINT once it reads the line\n"
        "print('py-spy> Sampling process 100 times a second. Press Control-C to exit.', flush=True)\n"
        "while True:\n"
        "    time.sleep(0.05)\n"
    )
    monkeypatch.setenv(pyspy.PY_SPY_ENV, str(_fake_py_spy(tmp_path, script, sys.executable)))
    with wb.profile(name="attached", store=tmp_path / "store") as run:
        pass
    status = run.collectors[0]
    assert status.name == "cpu:py-spy" and status.started, status.reason


def test_a_py_spy_that_never_speaks_is_taken_as_attaching_after_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pyspy, "ATTACH_TIMEOUT_S", 0.2)
    script = "import signal, sys, time\nsignal.signal(signal.SIGINT, lambda *_: sys.exit(0))\ntime.sleep(60)"
    monkeypatch.setenv(pyspy.PY_SPY_ENV, str(_fake_py_spy(tmp_path, script, sys.executable)))
    with wb.profile(name="silent", store=tmp_path / "store") as run:
        pass
    status = run.collectors[0]
    # It was not replaced by the in-process sampler; at stop it is reported as having written nothing.
    assert status.name == "cpu:py-spy" and not status.started
    assert "wrote no samples" in status.reason
