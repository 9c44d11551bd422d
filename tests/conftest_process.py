"""Fixtures that fail a test when it leaves a child process behind."""

from __future__ import annotations

from collections.abc import Iterator

import psutil
import pytest


def py_spy_processes() -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        try:
            command = " ".join(process.info["cmdline"] or [])[:200]
            named = process.info["name"] == "py-spy" or "py-spy" in command
            if named and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@pytest.fixture(autouse=True)
def no_leftover_py_spy() -> Iterator[None]:
    before = {p.pid for p in py_spy_processes()}
    yield
    left = [p for p in py_spy_processes() if p.pid not in before]
    for process in left:
        process.kill()
    assert not left, f"py-spy processes left behind: {[p.cmdline() for p in left]}"
