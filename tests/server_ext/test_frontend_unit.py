"""The lab extension's own unit tests (Jest with JupyterLab's testing setup, `@jupyterlab/testing`: the run
list model, the Runs sidebar widget with its polling and dialogs, the status bar's text, the note
messages), run with `npm test` when Node.js, npm and the extension's node_modules are here (`make test`
and `make lab` install them from the npm registry). Under CI=true they must run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest

EXTENSION = Path(__file__).resolve().parents[2] / "extensions" / "workbench-lab"

# Fewer tests than this means a suite stopped being collected (27 when this was written).
MIN_TESTS = 27


def _skip(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def test_npm_test_passes() -> None:
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        _skip("Node.js/npm not found: the lab extension's unit tests need them")
    if (
        not (EXTENSION / "node_modules" / "jest").is_dir()
        or not (EXTENSION / "node_modules" / "@jupyterlab" / "testing").is_dir()
    ):
        _skip(f"no Jest in {EXTENSION}/node_modules: `make test` (or `npm ci` there) installs it")
    result = subprocess.run(
        [npm, "test", "--", "--ci"],
        cwd=EXTENSION,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    # Jest's summary, e.g. "Tests:       27 passed, 27 total" (a failure or skip adds "N failed, "...).
    tests = re.search(r"^Tests:\s+(.*?)(\d+) total$", output, re.MULTILINE)
    suites = re.search(r"^Test Suites:\s+(.*?)(\d+) total$", output, re.MULTILINE)
    assert tests and suites, output[-4000:]
    total = int(tests.group(2))
    assert tests.group(1) == f"{total} passed, ", tests.group(0)
    assert suites.group(1) == f"{suites.group(2)} passed, ", suites.group(0)
    assert total >= MIN_TESTS, tests.group(0)
