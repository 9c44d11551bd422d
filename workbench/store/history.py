"""Saved runs as tables: every run (`wb.runs()`, `%fmprofile_runs`), and the history of one name, oldest
first, with key metrics flat (`wb.history()`, `workbench runs --name`)."""

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


RUN_COLUMNS = [
    "id", "name", "created", "wall_s", "output_tokens", "output_tokens_per_s", "ttft_ms_p50",
    "ttft_ms_p90", "tpot_ms_p50", "cpu_samples", "error", "path",
]  # fmt: skip


def runs_table(store: str | Path | None = None) -> pd.DataFrame:
    """The saved runs, one row each, oldest first."""
    rows = [_run_row(meta) for meta in list_runs(None if store is None else Path(store))]
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def _run_row(meta: dict[str, Any]) -> dict[str, Any]:
    metrics = meta.get("metrics") or {}
    tokens = metrics.get("tokens") or {}
    return {
        "id": meta.get("id"),
        "name": meta.get("name"),
        "created": meta.get("created"),
        "wall_s": metrics.get("wall_s"),
        "output_tokens": tokens.get("output_tokens"),
        "output_tokens_per_s": tokens.get("output_tokens_per_s"),
        "ttft_ms_p50": (tokens.get("ttft_ms") or {}).get("p50"),
        "ttft_ms_p90": (tokens.get("ttft_ms") or {}).get("p90"),
        "tpot_ms_p50": (tokens.get("tpot_ms") or {}).get("p50"),
        "cpu_samples": (metrics.get("cpu") or {}).get("samples"),
        "error": meta.get("load_error") or meta.get("error"),
        "path": meta.get("path"),
    }


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
