"""What a run ran on: Python, OS, CPU, library versions, CUDA devices. No heavy imports."""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import socket
import sys
from pathlib import Path
from typing import Any

_LIBRARIES = ("torch", "transformers", "numpy", "py-spy", "bokeh", "ipykernel", "fm-workbench")


@functools.cache
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# Read once per process: parsing the packages' metadata cost each profiled cell ~9 ms. An imported
# library keeps the version it was imported with, so a pip install mid-session changes nothing that
# ran; a library not installed yet is looked up again.
_versions: dict[str, str] = {}


def _version(distribution: str) -> str | None:
    if distribution in _versions:
        return _versions[distribution]
    try:
        version = _versions[distribution] = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    return version


def _cuda_devices() -> list[str]:
    # Only ask torch when the user already imported it: importing it here would cost seconds.
    torch = sys.modules.get("torch")
    if torch is None:
        return []
    try:
        if not torch.cuda.is_available():
            return []
        return [str(torch.cuda.get_device_name(i)) for i in range(torch.cuda.device_count())]
    except Exception:
        return []


def capture_environment() -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "os": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "host": socket.gethostname(),
        "versions": {name: _version(name) for name in _LIBRARIES},
        "cuda_devices": _cuda_devices(),
    }
