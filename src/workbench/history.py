"""The history of a named run: every saved run with that name, oldest first, with its key metrics flat."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from workbench.store import list_runs

HISTORY_COLUMNS = [
    "id", "created", "wall_s", "output_tokens", "output_tokens_per_s", "ttft_ms_p50", "ttft_ms_p90",
    "tpot_ms_p50", "e2e_ms_p50", "e2e_ms_p90", "goodput_share", "cpu_samples", "budget_passed", "error",
    "path",
]  # fmt: skip


def history(name: str, store: str | Path | None = None) -> pd.DataFrame:
    """One row per saved run named `name`, in the order they were taken; key metrics as columns."""
    rows = [
        history_row(meta)
        for meta in list_runs(None if store is None else Path(store))
        if meta.get("name") == name
    ]
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def history_row(meta: dict[str, Any]) -> dict[str, Any]:
    """The row of one run, from its metadata (what `list_runs` gives: run.json and its path)."""
    metrics = meta.get("metrics") or {}
    tokens = metrics.get("tokens") or {}

    def stat(key: str, statistic: str) -> Any:
        return (tokens.get(key) or {}).get(statistic)

    budget = metrics.get("budget")
    return {
        "id": meta.get("id"),
        "created": meta.get("created"),
        "wall_s": metrics.get("wall_s"),
        "output_tokens": tokens.get("output_tokens"),
        "output_tokens_per_s": tokens.get("output_tokens_per_s"),
        "ttft_ms_p50": stat("ttft_ms", "p50"),
        "ttft_ms_p90": stat("ttft_ms", "p90"),
        "tpot_ms_p50": stat("tpot_ms", "p50"),
        "e2e_ms_p50": stat("e2e_ms", "p50"),
        "e2e_ms_p90": stat("e2e_ms", "p90"),
        "goodput_share": (tokens.get("goodput") or {}).get("share"),
        "cpu_samples": (metrics.get("cpu") or {}).get("samples"),
        "budget_passed": budget.get("passed") if isinstance(budget, dict) else None,
        "error": meta.get("load_error") or meta.get("error"),
        "path": meta.get("path"),
    }
