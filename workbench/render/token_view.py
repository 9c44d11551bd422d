"""The token panel's view-model: output tokens/s over the run, and TTFT and TPOT per request."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from workbench.analysis.tokens import RequestMetrics, all_request_metrics
from workbench.model.events import TokenEvent
from workbench.model.run import Run

TARGET_BINS = 50
MIN_BIN_MS = 10.0
NS_PER_MS = 1e6


@dataclass(frozen=True)
class RateBins:
    bin_ms: float
    start_ms: list[float]
    end_ms: list[float]
    tokens: list[int]
    tokens_per_s: list[float]

    def columns(self) -> dict[str, list[Any]]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "bin_ms"}


@dataclass(frozen=True)
class RequestRow:
    request_id: int
    label: str
    model: str
    send_ms: float
    ttft_ms: float | None
    tpot_ms: float | None
    e2e_ms: float | None
    output_tokens: int
    failed: bool


@dataclass(frozen=True)
class TokenPanelView:
    rate: RateBins
    requests: list[RequestRow]

    @property
    def empty(self) -> bool:
        return not self.requests and not any(self.rate.tokens)

    @classmethod
    def from_run(cls, run: Run) -> TokenPanelView:
        rec = run.recording
        end_ns = run.last_event_ns
        rate = bin_rate(rec.tokens, end_ns / NS_PER_MS)
        requests = [_row(m) for m in all_request_metrics(rec)]
        return cls(rate=rate, requests=requests)

    def request_columns(self) -> dict[str, list[Any]]:
        data = {f.name: [getattr(r, f.name) for r in self.requests] for f in fields(RequestRow)}
        # Bokeh draws NaN as a gap; None would not serialise into a numeric column.
        for key in ("ttft_ms", "tpot_ms", "e2e_ms"):
            data[key] = [math.nan if v is None else v for v in data[key]]
        return data


def bin_width_ms(duration_ms: float, target_bins: int = TARGET_BINS) -> float:
    """About `target_bins` bins, rounded up to 1, 2 or 5 times a power of ten, and never below 10 ms."""
    raw = max(duration_ms / target_bins, MIN_BIN_MS)
    power = 10.0 ** math.floor(math.log10(raw))
    for step in (1.0, 2.0, 5.0, 10.0):
        if raw <= step * power * (1 + 1e-9):
            return step * power
    return 10.0 * power


def bin_rate(tokens: list[TokenEvent], duration_ms: float) -> RateBins:
    width = bin_width_ms(duration_ms)
    n_bins = max(1, math.ceil(duration_ms / width))
    counts = [0] * n_bins
    for event in tokens:
        # An arrival at exactly the run's end belongs to the last bin, not to one past it.
        index = min(max(int(event.t_ns / NS_PER_MS // width), 0), n_bins - 1)
        counts[index] += event.n_tokens
    starts = [i * width for i in range(n_bins)]
    return RateBins(
        bin_ms=width,
        start_ms=starts,
        end_ms=[s + width for s in starts],
        tokens=counts,
        tokens_per_s=[c / (width / 1000.0) for c in counts],
    )


def _row(m: RequestMetrics) -> RequestRow:
    return RequestRow(
        request_id=m.request_id,
        label=f"{m.name} #{m.request_id}",
        model=m.model or "",
        send_ms=m.send_ns / NS_PER_MS,
        ttft_ms=m.ttft_ms,
        tpot_ms=m.tpot_ms,
        e2e_ms=m.e2e_ms,
        output_tokens=m.output_tokens,
        failed=m.failed,
    )
