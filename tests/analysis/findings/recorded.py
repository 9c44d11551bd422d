"""Recorded runs of the planted workloads (`planted.py`), for judging the finding rules on fixed numbers.

`tests/data/findings/<rule>/<role>/` are run directories written by
`benchmarks/bench_findings.py --record tests/data/findings`: one planted/fixed pair per rule (the pair whose
estimate/measured ratio was the median of its benchmark run), and `measured.json` beside them with the gain
measured on that pair when it was recorded. Re-record them when the run format's schema version changes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench.model.run import Run
from workbench.store import load_run

DATA = Path(__file__).resolve().parents[2] / "data" / "findings"


def recorded(rule: str, role: str) -> Run:
    return load_run(DATA / rule / role)


def measured(rule: str) -> dict[str, Any]:
    """What the benchmark measured on the recorded pair: `measured_gain_ms` above all."""
    value = json.loads((DATA / rule / "measured.json").read_text())
    assert isinstance(value, dict)
    return value
