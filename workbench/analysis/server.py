"""`run.metrics["server"]`: each scraped server series summarised, with the raw metric it came from, and
what the scraper itself cost. Pure: the recording's counters and the collector's notes in, a dict out."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from workbench.model.recording import Recording

SERIES_PREFIX = "server"
NOTES_KEY = "server_metrics"


def is_server_series(series: str) -> bool:
    head, _, metric = series.partition(".")
    return head.startswith(SERIES_PREFIX) and head[len(SERIES_PREFIX) :].isdigit() and bool(metric)


def server_series(recording: Recording) -> dict[str, tuple[list[int], list[float]]]:
    """Every server series as (t_ns, values), in time order."""
    out: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
    for point in sorted((c for c in recording.counters if is_server_series(c.series)), key=lambda c: c.t_ns):
        times, values = out[point.series]
        times.append(point.t_ns)
        values.append(point.value)
    return dict(out)


def raw_names(notes: Mapping[str, object]) -> dict[str, dict[str, str]]:
    """{series: {"raw": ..., "kind": ...}} from the collector's notes."""
    summary = notes.get(NOTES_KEY)
    out: dict[str, dict[str, str]] = {}
    if isinstance(summary, dict):
        for server in summary.get("servers") or []:
            if isinstance(server, dict) and isinstance(server.get("series"), dict):
                out.update(server["series"])
    return out


def server_metrics(recording: Recording, notes: Mapping[str, object]) -> dict[str, Any] | None:
    """None when no server was scraped."""
    summary = notes.get(NOTES_KEY)
    if not isinstance(summary, dict):
        return None
    names = raw_names(notes)
    series = {}
    for name, (_, values) in sorted(server_series(recording).items()):
        about = names.get(name, {})
        series[name] = {
            "min": min(values),
            "max": max(values),
            "mean": sum(values) / len(values),
            "last": values[-1],
            "points": len(values),
            "raw": about.get("raw"),
            "kind": about.get("kind"),
        }
    servers = [
        {key: server.get(key) for key in ("index", "url", "scrapes", "failures", "first_error")}
        for server in summary.get("servers") or []
        if isinstance(server, dict)
    ]
    scraper = {key: summary.get(key) for key in ("rate_hz_requested", "rate_hz_achieved", "ticks", "late")}
    scraper["cpu_ms_per_scrape"] = summary.get("scrape_cpu_ms")
    scraper["wall_ms_per_scrape"] = summary.get("scrape_wall_ms")
    return {"servers": servers, "series": series, "scraper": scraper}
