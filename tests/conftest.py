"""Shared fixtures. `chromium_executable` finds Debian's chromium for the browser tests, once per session."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
INSTALL_HINT = "sudo apt-get install chromium"


def _try_apt_install() -> bool:
    # Only as root (a CI container); a developer's machine is never changed behind their back.
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        done = subprocess.run(command, env=env, capture_output=True, timeout=900, check=False)
        if done.returncode != 0:
            return False
    return CHROMIUM.exists()


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    if CHROMIUM.exists() or _try_apt_install():
        return str(CHROMIUM)
    message = f"browser tests need Debian chromium at {CHROMIUM}; install it with `{INSTALL_HINT}`"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


pytest_plugins = ["tests.conftest_process"]
