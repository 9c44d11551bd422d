"""One scrape: a Prometheus text exposition parsed by `prometheus_client`'s parser into our vocabulary.

Samples of one metric with several label sets (models, engines, ranks, finish reasons) are combined as
the vocabulary says; a histogram keeps its cumulative buckets (upper bound, count), sum and count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from workbench.collectors.server_metrics.vocabulary import VOCABULARY, Term, lookup

SUFFIXES = ("_bucket", "_sum", "_count", "_created", "_total")


@dataclass
class Histogram:
    raw: str
    buckets: dict[float, float] = field(default_factory=dict)  # upper bound -> cumulative count
    sum: float = 0.0
    count: float = 0.0


@dataclass
class Scrape:
    """What one scrape said, in our names: `values` of gauges and counters, `histograms`, `raw` names."""

    values: dict[str, float] = field(default_factory=dict)
    histograms: dict[str, Histogram] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)


def parse_scrape(text: str) -> Scrape:
    """Raises ValueError (from the parser) for text that is not the Prometheus exposition format."""
    scrape = Scrape()
    for family in text_string_to_metric_families(relevant_lines(text)):
        term = lookup(family.name)
        if term is None:
            continue
        if term.kind == "histogram":
            _add_histogram(scrape, term, family.name, family.samples)
        else:
            _add_value(scrape, term, family.name, family.samples)
    return scrape


def relevant_lines(text: str) -> str:
    """Only the lines of families in the vocabulary, for the parser: a real server's page is mostly
    other families (Python GC, HTTP handlers, dozens of buckets each), and parsing them is most of a
    scrape's cost. Lines are kept whole; the parser still reads every kept one."""
    kept = []
    for line in text.splitlines():
        if line.startswith("#"):
            parts = line.split(None, 3)
            name = parts[2] if len(parts) >= 3 and parts[1] in ("TYPE", "HELP") else ""
        else:
            name = line.split("{", 1)[0].split(None, 1)[0] if line.strip() else ""
        if name and _family(name) in VOCABULARY:
            kept.append(line)
    return "\n".join(kept) + "\n"


def _family(name: str) -> str:
    if name in VOCABULARY:
        return name
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _add_value(scrape: Scrape, term: Term, raw: str, samples: list) -> None:  # type: ignore[type-arg]
    values = [
        float(s.value)
        for s in samples
        if not s.name.endswith(("_created", "_bucket", "_sum", "_count")) and math.isfinite(s.value)
    ]
    if not values:
        return
    value = max(values) if term.combine == "max" else sum(values)
    if term.name in scrape.values and scrape.raw.get(term.name) != raw:
        return  # a server exposing two names for one thing (V0 and V1): the first one wins
    scrape.values[term.name] = value
    scrape.raw[term.name] = raw if term.kind == "gauge" else f"{raw}_total"
    scrape.kinds[term.name] = term.kind


def _add_histogram(scrape: Scrape, term: Term, raw: str, samples: list) -> None:  # type: ignore[type-arg]
    if term.name in scrape.histograms:
        return
    histogram = Histogram(raw)
    for sample in samples:
        if sample.name.endswith("_bucket"):
            bound = float(sample.labels.get("le", "nan"))
            if not math.isnan(bound):
                histogram.buckets[bound] = histogram.buckets.get(bound, 0.0) + float(sample.value)
        elif sample.name.endswith("_sum"):
            histogram.sum += float(sample.value)
        elif sample.name.endswith("_count"):
            histogram.count += float(sample.value)
    scrape.histograms[term.name] = histogram
    scrape.raw[term.name] = raw
    scrape.kinds[term.name] = "histogram"
