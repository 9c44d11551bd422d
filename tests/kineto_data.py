"""Real Kineto traces in ../shared/data/kineto (recorded on NVIDIA GPUs); tests skip where it is absent."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

KINETO = (Path(__file__).resolve().parents[1].parent / "shared" / "data" / "kineto").resolve()


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
