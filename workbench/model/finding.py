"""A `Finding`: what the workbench found, the evidence it rests on, what to try, and what it would gain.

Plain data, saved with the run (`run.json`, under `metrics["findings"]`); the rules that produce them are in
`workbench.analysis.findings`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SEVERITIES = ("high", "medium", "low")


@dataclass(frozen=True)
class Evidence:
    """A pointer into the run: a span, a time range, a CPU frame, a kernel or a request.

    `start_ms`/`end_ms` are on the run clock (the dashboard zooms there); `ref` names the thing: a span
    or request id, a function name, a kernel name."""

    type: str  # "span", "time_range", "frame", "kernel", "request", "metric"
    label: str
    start_ms: float | None = None
    end_ms: float | None = None
    ref: str | int | None = None


@dataclass(frozen=True)
class Finding:
    kind: str
    severity: str
    title: str
    # The measured numbers the finding rests on, by name (ms, counts, shares); shown beside the title.
    evidence: dict[str, Any]
    pointers: list[Evidence]
    suggestion: str
    # Time the cell would save if the suggestion worked, and the one-line assumption behind that number.
    gain_ms: float
    assumption: str
    gain: dict[str, Any] = field(default_factory=dict)  # other forms of gain, e.g. {"throughput_x": 2.1}

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        pointers = [Evidence(**p) for p in data.get("pointers", [])]
        return cls(**{**data, "pointers": pointers})
