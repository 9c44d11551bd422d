"""One line under the communication breakdown: each request's TTFT split by the server's own report, or
why there is none (see `analysis.server_split`)."""

from __future__ import annotations

from typing import Any

from workbench.model.run import Run
from workbench.render.run_metrics import token_metrics_of

PART_TITLES = (
    ("client_queue_ms", "client queue"),
    ("network_ms", "network"),
    ("server_queue_ms", "server queue"),
    ("prefill_ms", "prefill"),
    ("server_decode_ms", "server decode"),
)


def ttft_split_caption(run: Run) -> str | None:
    """None for a run with no HTTP request to a server."""
    split: Any = (token_metrics_of(run) or {}).get("ttft_split")
    if not isinstance(split, dict):
        return None
    if not split.get("requests"):
        why = split.get("why_not")
        why = why if isinstance(why, str) else "; ".join(why or [])
        return f"TTFT split by the server: not available ({why})"
    parts = split.get("parts_ms") or {}
    means = [
        f"{title} {mean:,.1f} ms"
        for key, title in PART_TITLES
        if isinstance(mean := (parts.get(key) or {}).get("mean"), int | float)
    ]
    missing = split.get("not_available") or 0
    tail = f" ({missing} request(s) without it)" if missing else ""
    return f"TTFT split by the server (mean of {split['requests']} requests): " + " · ".join(means) + tail
