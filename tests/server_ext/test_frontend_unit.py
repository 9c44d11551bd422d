"""The lab extension's own unit tests (node:test over the compiled TypeScript of its pure modules: the run
list and the status bar's text), run with `npm test` when Node.js, npm and the extension's node_modules are
here. `make test` does not install node modules; `make lab` (`make labextension`) does."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

EXTENSION = Path(__file__).resolve().parents[2] / "extensions" / "workbench-lab"


def test_npm_test_passes() -> None:
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("Node.js/npm not found: the lab extension's unit tests need them")
    if not (EXTENSION / "node_modules" / "typescript").is_dir():
        pytest.skip(
            f"no node_modules in {EXTENSION}: `make labextension` (or `npm install` there) installs them"
        )
    result = subprocess.run(
        [npm, "test"], cwd=EXTENSION, capture_output=True, text=True, timeout=300, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "# fail 0" in output, output[-4000:]
