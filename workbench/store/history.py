"""Saved runs as tables: every run (`wb.runs()`, `%fmprofile_runs`), and the history of one name, oldest
first, with key metrics flat (`wb.history()`, `workbench runs --name`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from workbench.store import list_runs
from workbench.store.listing import listed_row

HISTORY_COLUMNS = [
    "id", "created", "wall_s", "output_tokens", "output_tokens_per_s", "ttft_ms_p50", "ttft_ms_p90",
    "tpot_ms_p50", "e2e_ms_p50", "e2e_ms_p90", "goodput_share", "cpu_samples", "budget_passed", "status",
    "error", "path",
]  # fmt: skip


RUN_COLUMNS = [
    "id", "name", "created", "wall_s", "output_tokens", "output_tokens_per_s", "ttft_ms_p50",
    "ttft_ms_p90", "tpot_ms_p50", "cpu_samples", "status", "status_detail", "error", "path",
]  # fmt: skip


def runs_table(store: str | Path | None = None) -> pd.DataFrame:
    """The saved runs, one row each, oldest first."""
    rows = [listed_row(meta) for meta in list_runs(None if store is None else Path(store))]
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


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
    row = listed_row(meta)
    return {column: row[column] for column in HISTORY_COLUMNS}
