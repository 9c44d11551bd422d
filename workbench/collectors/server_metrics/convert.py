"""From consecutive scrapes to telemetry points: pure functions, no clock, no I/O.

- a gauge is its value;
- a counter becomes its rate over the interval (`<name>_per_s`), and preemptions also their count since
  the run's first scrape (`preemptions`); prefix-cache hits over queries give the interval's hit rate;
- a histogram becomes, for the interval, observations per second (`<name>_per_s`), their mean and the
  50th and 90th percentiles in ms (`<name>_mean_ms`, `_p50_ms`, `_p90_ms`), from the buckets' increase
  with Prometheus's `histogram_quantile` interpolation. An interval with no observation has none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from workbench.collectors.server_metrics.scrape import Histogram, Scrape
from workbench.collectors.server_metrics.vocabulary import (
    PREEMPTIONS,
    PREFIX_CACHE_HIT_RATE,
    PREFIX_CACHE_HITS,
    PREFIX_CACHE_QUERIES,
)

QUANTILES = ((0.5, "p50"), (0.9, "p90"))


@dataclass(frozen=True)
class Point:
    name: str
    value: float
    raw: str
    kind: str


def points(current: Scrape, previous: Scrape | None, first: Scrape, dt_s: float) -> list[Point]:
    out = [
        Point(name, value, current.raw[name], "gauge")
        for name, value in current.values.items()
        if current.kinds[name] == "gauge"
    ]
    for name, value in current.values.items():
        if current.kinds[name] != "counter":
            continue
        if name == PREEMPTIONS and name in first.values:
            out.append(Point(name, max(0.0, value - first.values[name]), current.raw[name], "counter"))
        if previous is not None and name in previous.values and dt_s > 0:
            out.append(
                Point(
                    f"{name}_per_s", _increase(value, previous.values[name]) / dt_s, current.raw[name], "rate"
                )
            )
    if previous is not None:
        out += _hit_rate(current, previous)
        if dt_s > 0:
            for name, histogram in current.histograms.items():
                before = previous.histograms.get(name)
                if before is not None:
                    out += _interval(name, histogram, before, dt_s)
    return out


def _increase(now: float, before: float) -> float:
    # A counter that went down was reset (the server restarted): all of its value is new.
    return now - before if now >= before else now


def _hit_rate(current: Scrape, previous: Scrape) -> list[Point]:
    if PREFIX_CACHE_HIT_RATE in current.values:
        return []
    names = (PREFIX_CACHE_QUERIES, PREFIX_CACHE_HITS)
    if not all(n in current.values and n in previous.values for n in names):
        return []
    queries = _increase(current.values[PREFIX_CACHE_QUERIES], previous.values[PREFIX_CACHE_QUERIES])
    hits = _increase(current.values[PREFIX_CACHE_HITS], previous.values[PREFIX_CACHE_HITS])
    if queries <= 0:
        return []
    raw = f"{current.raw[PREFIX_CACHE_HITS]} / {current.raw[PREFIX_CACHE_QUERIES]}"
    return [Point(PREFIX_CACHE_HIT_RATE, min(1.0, hits / queries), raw, "ratio")]


def _interval(name: str, now: Histogram, before: Histogram, dt_s: float) -> list[Point]:
    count = _increase(now.count, before.count)
    if count <= 0:
        return []
    total = now.sum - before.sum if now.count >= before.count else now.sum
    buckets = {b: _increase(c, before.buckets.get(b, 0.0)) for b, c in now.buckets.items()}
    out = [
        Point(f"{name}_per_s", count / dt_s, now.raw, "histogram"),
        Point(f"{name}_mean_ms", total / count * 1000, now.raw, "histogram"),
    ]
    for q, label in QUANTILES:
        value = bucket_quantile(q, buckets)
        if value is not None:
            out.append(Point(f"{name}_{label}_ms", value * 1000, now.raw, "histogram"))
    return out


def bucket_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Prometheus's `histogram_quantile` over cumulative buckets {upper bound: count}."""
    ordered = sorted(buckets.items())
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = q * ordered[-1][1]
    lower, below = 0.0, 0.0
    for bound, cumulative in ordered:
        if cumulative >= rank:
            if math.isinf(bound):
                return lower  # past the last finite bound: its bound is the best one can say
            if cumulative == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (cumulative - below)
        lower, below = bound, cumulative
    return lower
