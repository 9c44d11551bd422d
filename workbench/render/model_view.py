"""The per-model table's view-model, and goodput against the run's SLO, from `metrics["tokens"]`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.model.run import Run
from workbench.render.run_metrics import token_metrics_of

# (column title, metric, statistic); the statistic's value in ms.
LATENCY_COLUMNS = (
    ("TTFT p50", "ttft_ms", "p50"),
    ("TTFT p90", "ttft_ms", "p90"),
    ("TPOT p50", "tpot_ms", "p50"),
    ("TPOT p90", "tpot_ms", "p90"),
    ("ITL p50", "itl_ms", "p50"),
    ("E2E p50", "e2e_ms", "p50"),
    ("E2E p90", "e2e_ms", "p90"),
)


@dataclass(frozen=True)
class ModelRow:
    model: str
    requests: int
    failed: int
    latency_ms: dict[str, float | None]  # by column title
    output_tokens_per_s: float | None
    goodput: str | None


@dataclass(frozen=True)
class ModelTableView:
    rows: list[ModelRow]
    goodput: str | None

    @property
    def empty(self) -> bool:
        return not self.rows

    @classmethod
    def from_run(cls, run: Run) -> ModelTableView:
        tokens = token_metrics_of(run) or {}
        if not tokens.get("requests"):
            return cls([], None)
        per_model = tokens.get("per_model") or {}
        rows = [_row(model, values) for model, values in sorted(per_model.items())]
        return cls(rows=rows, goodput=goodput_phrase(tokens.get("goodput")))

    @property
    def has_goodput(self) -> bool:
        return self.goodput is not None


def _row(model: str, values: dict[str, Any]) -> ModelRow:
    latency = {title: (values.get(metric) or {}).get(stat) for title, metric, stat in LATENCY_COLUMNS}
    good = values.get("goodput")
    return ModelRow(
        model=model,
        requests=int(values.get("requests") or 0),
        failed=int(values.get("failed_requests") or 0),
        latency_ms=latency,
        output_tokens_per_s=values.get("output_tokens_per_s"),
        goodput=None if not good else f"{good.get('met', 0)}/{good.get('requests', 0)}",
    )


def goodput_phrase(goodput: dict[str, Any] | None) -> str | None:
    """ "goodput 27/32 (84%) meet ttft_ms≤200, tpot_ms≤50; 3.1 req/s", or None without an SLO."""
    if not goodput or not goodput.get("slo"):
        return None
    met, n = int(goodput.get("met") or 0), int(goodput.get("requests") or 0)
    share = goodput.get("share")
    bounds = ", ".join(f"{key}≤{limit:g}" for key, limit in goodput["slo"].items())
    out = f"goodput {met}/{n}" + (f" ({share:.0%})" if share is not None else "") + f" meet {bounds}"
    per_s = goodput.get("per_s")
    return out + (f"; {per_s:,.1f} req/s" if per_s is not None else "")
