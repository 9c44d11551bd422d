"""The row every listing shows for one run (`workbench runs`, `wb.runs()`, `wb.history()`, the Runs
sidebar), read once from its run.json. run.json is user-editable: a value of the wrong type shows as
missing, never as an error that takes the listing down."""

from __future__ import annotations

from typing import Any

from workbench.store.recover import recorder_alive


def listed_status(meta: dict[str, Any]) -> str:
    """ok, error (the cell raised), unanalysed, recording (a live kernel is recording it), crashed (its
    kernel died while recording), corrupt (run.json unreadable)."""
    if "load_error" in meta:
        return "corrupt"
    status = meta.get("status", "complete")
    if status == "recording":
        return "recording" if recorder_alive(meta.get("recorder")) else "crashed"
    if status == "complete":
        return "error" if meta.get("error") else "ok"
    return str(status)


def listed_row(meta: dict[str, Any]) -> dict[str, Any]:
    """One run's row, from what `list_runs` gives (its run.json and path, or a `load_error`)."""
    metrics = _mapping(meta.get("metrics"))
    tokens = _mapping(metrics.get("tokens"))

    def stat(key: str, statistic: str) -> float | None:
        return _number(_mapping(tokens.get(key)).get(statistic))

    budget = _mapping(metrics.get("budget")).get("passed")
    annotations = meta.get("annotations")
    return {
        "id": meta.get("id"),
        "name": _text(meta.get("name")),
        "created": _text(meta.get("created")),
        "status": listed_status(meta),
        "wall_s": _number(metrics.get("wall_s")),
        "output_tokens": _number(tokens.get("output_tokens")),
        "output_tokens_per_s": _number(tokens.get("output_tokens_per_s")),
        "ttft_ms_p50": stat("ttft_ms", "p50"),
        "ttft_ms_p90": stat("ttft_ms", "p90"),
        "tpot_ms_p50": stat("tpot_ms", "p50"),
        "e2e_ms_p50": stat("e2e_ms", "p50"),
        "e2e_ms_p90": stat("e2e_ms", "p90"),
        "goodput_share": _number(_mapping(tokens.get("goodput")).get("share")),
        "cpu_samples": _number(_mapping(metrics.get("cpu")).get("samples")),
        "budget_passed": budget if isinstance(budget, bool) else None,
        "error": _text(meta.get("load_error") or meta.get("error")),
        "status_detail": _text(meta.get("status_detail")),
        "parent": _text(meta.get("parent")),
        "notes": len(annotations) if isinstance(annotations, list) else 0,
        "path": meta.get("path"),
    }


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: object) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None  # type: ignore[return-value]


def _text(value: object) -> str | None:
    return None if value is None else str(value)
