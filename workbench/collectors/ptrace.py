"""Letting a child process attach to us where Yama restricts ptrace (`ptrace_scope=1`, as on Ubuntu).

Under Yama scope 1 a process may trace only its descendants, so py-spy (our child) may not attach to us
unless we name it as our tracer with `prctl(PR_SET_PTRACER, pid)`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from pathlib import Path

PR_SET_PTRACER = 0x59616D61
YAMA_SCOPE_FILE = Path("/proc/sys/kernel/yama/ptrace_scope")


def yama_scope() -> int | None:
    """Yama's ptrace_scope, or None where Yama is not active."""
    try:
        return int(YAMA_SCOPE_FILE.read_text().strip())
    except (OSError, ValueError):
        return None


def allow_tracer(pid: int) -> bool:
    """Allow `pid` to ptrace this process. False where the call is refused or not supported."""
    try:
        return bool(_libc().prctl(PR_SET_PTRACER, ctypes.c_ulong(pid), 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


@functools.cache
def _libc() -> ctypes.CDLL:
    # find_library runs ldconfig: ~2 ms, once per process instead of once per cell.
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def scope_advice(scope: int | None) -> str:
    if scope == 2:
        return "Yama ptrace_scope is 2 (admin only): run the kernel with CAP_SYS_PTRACE"
    if scope == 3:
        return "Yama ptrace_scope is 3 (ptrace disabled until reboot)"
    return (
        "run the kernel as a user allowed to ptrace it (in Docker: --cap-add SYS_PTRACE), "
        "or set kernel.yama.ptrace_scope=0"
    )
