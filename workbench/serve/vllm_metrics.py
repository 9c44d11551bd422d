"""The server's `/metrics`, with vLLM's metric names and `model_name` label, from its own scheduler.

Gauges are read from the scheduler when scraped; counters and histograms are updated as requests are
scheduled, produce tokens and finish, at the same points vLLM's V1 frontend records them: queue time
(arrival to scheduled), prefill (scheduled to first token), decode (first to last token), inference
(scheduled to last token), TTFT from arrival, and each gap between tokens. The prefix cache is simulated
over whole prompt blocks: a block whose prefix an earlier prompt had is a hit.

Per-request metrics (`--enable-per-request-metrics`) follow vLLM's response field: `metrics` with
`time_to_first_token_ms` (scheduled to first token), `generation_time_ms`, `queue_time_ms`,
`mean_itl_ms`, `tokens_per_second`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from workbench.serve.scheduler import Scheduler, Ticket

# vLLM's own buckets for request latencies and TTFT (vllm/v1/metrics/loggers.py).
LATENCY_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0)
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
ITL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
MAX_PREFIX_BLOCKS = 100_000


class VllmMetrics:
    def __init__(self, scheduler: Scheduler, model_name: str) -> None:
        self.scheduler = scheduler
        self.registry = CollectorRegistry()
        self._prefixes: set[bytes] = set()
        label = {"model_name": model_name}
        names = ["model_name"]

        def gauge(name: str, doc: str) -> Gauge:
            return Gauge(name, doc, names, registry=self.registry)

        gauge("vllm:num_requests_running", "Number of requests in model execution batches.").labels(
            **label
        ).set_function(lambda: len(scheduler.running))
        gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.").labels(
            **label
        ).set_function(lambda: len(scheduler.waiting))
        gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.").labels(
            **label
        ).set_function(lambda: scheduler.kv_usage)
        self._preemptions_seen = 0
        self.preemptions = self._counter("vllm:num_preemptions", "Cumulative number of preemptions.", label)
        self.prompt_tokens = self._counter("vllm:prompt_tokens", "Number of prefill tokens processed.", label)
        self.generation_tokens = self._counter(
            "vllm:generation_tokens", "Number of generation tokens processed.", label
        )
        self.prefix_queries = self._counter(
            "vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.", label
        )
        self.prefix_hits = self._counter(
            "vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.", label
        )
        self.success = Counter(
            "vllm:request_success",
            "Count of successfully processed requests.",
            ["finished_reason", "model_name"],
            registry=self.registry,
        )
        self.model_name = model_name
        self.ttft = self._histogram("vllm:time_to_first_token_seconds", "Time to first token.", TTFT_BUCKETS)
        self.itl = self._histogram("vllm:inter_token_latency_seconds", "Inter-token latency.", ITL_BUCKETS)
        self.e2e = self._histogram("vllm:e2e_request_latency_seconds", "End-to-end latency.", LATENCY_BUCKETS)
        self.queue = self._histogram("vllm:request_queue_time_seconds", "Time in WAITING.", LATENCY_BUCKETS)
        self.prefill = self._histogram("vllm:request_prefill_time_seconds", "Prefill time.", LATENCY_BUCKETS)
        self.decode = self._histogram("vllm:request_decode_time_seconds", "Decode time.", LATENCY_BUCKETS)
        self.inference = self._histogram(
            "vllm:request_inference_time_seconds", "Time in RUNNING.", LATENCY_BUCKETS
        )

    def _counter(self, name: str, doc: str, label: dict[str, str]) -> Any:
        return Counter(name, doc, ["model_name"], registry=self.registry).labels(**label)

    def _histogram(self, name: str, doc: str, buckets: tuple[float, ...]) -> Any:
        metric = Histogram(name, doc, ["model_name"], buckets=buckets, registry=self.registry)
        return metric.labels(model_name=self.model_name)

    def exposition(self) -> bytes:
        self._sync_preemptions()
        return generate_latest(self.registry)

    def _sync_preemptions(self) -> None:
        new = self.scheduler.preemptions - self._preemptions_seen
        if new > 0:
            self.preemptions.inc(new)
            self._preemptions_seen += new

    # -- events of one request --------------------------------------------------------------------
    def on_scheduled(self, ticket: Ticket, prompt: str) -> None:
        self.prompt_tokens.inc(ticket.prompt_tokens)
        queried, hits = self._prefix_lookup(prompt)
        self.prefix_queries.inc(queried)
        self.prefix_hits.inc(hits)

    def on_tokens(self, ticket: Ticket, now: float, n_tokens: int) -> None:
        if ticket.first_token is None:
            ticket.first_token = now
            self.ttft.observe(now - ticket.arrival)
        elif ticket.last_token is not None:
            self.itl.observe(now - ticket.last_token)
        ticket.last_token = now
        self.generation_tokens.inc(n_tokens)

    def on_finished(self, ticket: Ticket, now: float, reason: str) -> None:
        self._sync_preemptions()
        scheduled = ticket.scheduled if ticket.scheduled is not None else ticket.arrival
        first = ticket.first_token if ticket.first_token is not None else now
        last = ticket.last_token if ticket.last_token is not None else now
        self.e2e.observe(now - ticket.arrival)
        self.queue.observe(scheduled - ticket.arrival)
        self.prefill.observe(first - scheduled)
        self.decode.observe(last - first)
        self.inference.observe(last - scheduled)
        self.success.labels(finished_reason=reason, model_name=self.model_name).inc()

    def _prefix_lookup(self, prompt: str) -> tuple[int, int]:
        """(tokens queried, tokens hit) for the prompt's whole blocks of words."""
        words = prompt.split()
        size = self.scheduler.block_size
        digest = hashlib.blake2b(digest_size=16)
        hits = 0
        for start in range(0, len(words) - len(words) % size, size):
            digest.update(" ".join(words[start : start + size]).encode())
            key = digest.copy().digest()
            if key in self._prefixes:
                hits += size
            elif len(self._prefixes) < MAX_PREFIX_BLOCKS:
                self._prefixes.add(key)
        return len(words), hits


def per_request_metrics(ticket: Ticket) -> dict[str, float | None]:
    """vLLM's `metrics` response object for one request (milliseconds; null where not measured)."""
    scheduled, first, last = ticket.scheduled, ticket.first_token, ticket.last_token
    ttft = None if scheduled is None or first is None else (first - scheduled) * 1000
    generation = None if first is None or last is None else (last - first) * 1000
    queue = None if scheduled is None else (scheduled - ticket.arrival) * 1000
    itl = generation / (ticket.generated - 1) if generation is not None and ticket.generated > 1 else None
    running = None if scheduled is None or last is None else last - scheduled
    rate = ticket.generated / running if running else None
    return {
        "time_to_first_token_ms": _round(ttft),
        "generation_time_ms": _round(generation),
        "queue_time_ms": _round(queue),
        "mean_itl_ms": _round(itl),
        "tokens_per_second": _round(rate),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
