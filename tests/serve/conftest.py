"""One synthetic server per test module, and a check that no server process outlives its module."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psutil
import pytest

from workbench.serve import ServerHandle, start_server

# The module server's defaults; tests that need other timing say so per request with headers.
TTFT_MS = 40
TOKEN_DELAY_MS = 5
OUTPUT_TOKENS = 6


def server_processes() -> list[psutil.Process]:
    found = []
    for child in psutil.Process(os.getpid()).children(recursive=True):
        try:
            if "workbench.serve" in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.Error:
            continue
    return found


@pytest.fixture(scope="module", autouse=True)
def no_server_left() -> Iterator[None]:
    yield
    left = server_processes()
    for process in left:
        process.kill()
    assert not left, f"server processes left behind: {[p.cmdline() for p in left]}"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    with start_server(
        ttft_ms=TTFT_MS, token_delay_ms=TOKEN_DELAY_MS, output_tokens=OUTPUT_TOKENS, seed=1
    ) as handle:
        yield handle
    assert not handle.running
