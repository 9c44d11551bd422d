"""Real Kineto traces in ../shared/data/kineto (recorded on NVIDIA GPUs); tests skip where it is absent."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _shared_dirs() -> list[Path]:
    """Where ../shared may be: $WORKBENCH_SHARED_DIR, beside this checkout, or beside the repository a
    clean clone was made from (CI clones to a scratch folder)."""
    found = [Path(os.environ["WORKBENCH_SHARED_DIR"])] if os.environ.get("WORKBENCH_SHARED_DIR") else []
    found.append(ROOT.parent / "shared")
    try:
        command = ["git", "-C", str(ROOT), "remote", "get-url", "origin"]
        origin = subprocess.run(command, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        origin = ""
    if origin and Path(origin).is_dir():
        found.append(Path(origin).resolve().parent / "shared")
    return found


KINETO = next(
    (d / "data" / "kineto" for d in _shared_dirs() if (d / "data" / "kineto").is_dir()),
    ROOT.parent / "shared" / "data" / "kineto",
)


def kineto_trace(name: str) -> Path:
    path = KINETO / name
    if not path.exists():
        pytest.skip(f"recorded Kineto traces not found at {KINETO} (shared test data is absent)")
    return path


def raw_events(path: Path) -> list[dict[str, Any]]:
    """Every event of the trace, read with plain json: the reference our importer is checked against."""
    with gzip.open(path) as file:
        events: list[dict[str, Any]] = json.load(file)["traceEvents"]
    return events
