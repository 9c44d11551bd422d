"""Fixtures that fail a test when it leaves a py-spy process behind.

Only this test session's processes count: a marker in the environment is inherited by the kernels the
tests start and by the py-spy processes those spawn, so another test run on the same machine is never
mistaken for ours (or killed).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psutil
import pytest

MARKER = "WORKBENCH_TEST_SESSION"
os.environ.setdefault(MARKER, uuid.uuid4().hex)


def py_spy_processes() -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        try:
            command = " ".join(process.info["cmdline"] or [])[:300]
            if process.info["name"] != "py-spy" and "py-spy" not in command:
                continue
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            if process.environ().get(MARKER) == os.environ[MARKER]:
                found.append(process)
        except psutil.Error:
            continue
    return found


@pytest.fixture(autouse=True)
def no_leftover_py_spy() -> Iterator[None]:
    before = {p.pid for p in py_spy_processes()}
    yield
    left = [p for p in py_spy_processes() if p.pid not in before]
    commands = []
    for process in left:
        try:
            commands.append(process.cmdline())
            process.kill()
        except psutil.Error:
            continue
    assert not commands, f"py-spy processes left behind: {commands}"
