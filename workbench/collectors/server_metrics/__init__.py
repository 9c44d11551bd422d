"""Server metrics: a Prometheus `/metrics` endpoint (vLLM, SGLang, TGI, `workbench serve`) scraped on the
run clock by one daemon thread, into telemetry counters `server<i>.<name>` (see `vocabulary` and
`convert`). Each point is stamped at the middle of its request; rates use the measured time between two
scrapes. A scrape that fails is counted and reported in one line; the run goes on. The scraper's own
cost (CPU and wall time per scrape) is measured and written into the run's notes.
"""

from __future__ import annotations

from workbench.collectors.server_metrics.collector import NOTES_KEY, ServerMetricsCollector

__all__ = ["NOTES_KEY", "ServerMetricsCollector"]
