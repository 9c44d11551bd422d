"""One vocabulary over vLLM's, SGLang's and TGI's Prometheus names.

Each entry maps a server's metric (its family name, without a counter's `_total`) to our name, its kind
and how label sets are combined (`sum` for counts and rates; `max` for a share such as KV-cache usage,
which each tensor-parallel rank reports for the same cache). Latency histograms are in seconds.
Names checked against vLLM's `docs/design/metrics.md` (V1; `gpu_cache_usage_perc` and
`gpu_prefix_cache_hit_rate` are V0's), SGLang's production-metrics page and TGI's metrics reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["gauge", "counter", "histogram"]

# Our names (series `server<i>.<name>`, see `workbench.analysis.server`).
REQUESTS_RUNNING = "requests_running"
REQUESTS_WAITING = "requests_waiting"
KV_CACHE_USAGE = "kv_cache_usage"  # share of KV-cache blocks (tokens, for SGLang) in use, 0-1
PREEMPTIONS = "preemptions"
PROMPT_TOKENS = "prompt_tokens"
GENERATION_TOKENS = "generation_tokens"
PREFIX_CACHE_QUERIES = "prefix_cache_queries"
PREFIX_CACHE_HITS = "prefix_cache_hits"
PREFIX_CACHE_HIT_RATE = "prefix_cache_hit_rate"
GENERATION_TOKENS_PER_S = "generation_tokens_per_s"
TTFT = "ttft"
ITL = "itl"
E2E = "e2e"
QUEUE_TIME = "queue_time"
PREFILL_TIME = "prefill_time"
DECODE_TIME = "decode_time"
INFERENCE_TIME = "inference_time"


@dataclass(frozen=True)
class Term:
    name: str
    kind: Kind
    combine: Literal["sum", "max"] = "sum"


VOCABULARY: dict[str, Term] = {
    # requests running and waiting
    "vllm:num_requests_running": Term(REQUESTS_RUNNING, "gauge"),
    "sglang:num_running_reqs": Term(REQUESTS_RUNNING, "gauge"),
    "tgi_batch_current_size": Term(REQUESTS_RUNNING, "gauge"),
    "vllm:num_requests_waiting": Term(REQUESTS_WAITING, "gauge"),
    "sglang:num_queue_reqs": Term(REQUESTS_WAITING, "gauge"),
    "tgi_queue_size": Term(REQUESTS_WAITING, "gauge"),
    # KV cache
    "vllm:kv_cache_usage_perc": Term(KV_CACHE_USAGE, "gauge", "max"),
    "vllm:gpu_cache_usage_perc": Term(KV_CACHE_USAGE, "gauge", "max"),
    "sglang:token_usage": Term(KV_CACHE_USAGE, "gauge", "max"),
    "vllm:num_preemptions": Term(PREEMPTIONS, "counter"),
    # prefix cache
    "vllm:prefix_cache_queries": Term(PREFIX_CACHE_QUERIES, "counter"),
    "vllm:prefix_cache_hits": Term(PREFIX_CACHE_HITS, "counter"),
    "vllm:gpu_prefix_cache_hit_rate": Term(PREFIX_CACHE_HIT_RATE, "gauge", "max"),
    "sglang:cache_hit_rate": Term(PREFIX_CACHE_HIT_RATE, "gauge", "max"),
    # tokens
    "vllm:prompt_tokens": Term(PROMPT_TOKENS, "counter"),
    "sglang:prompt_tokens": Term(PROMPT_TOKENS, "counter"),
    "vllm:generation_tokens": Term(GENERATION_TOKENS, "counter"),
    "sglang:generation_tokens": Term(GENERATION_TOKENS, "counter"),
    "sglang:gen_throughput": Term(GENERATION_TOKENS_PER_S, "gauge"),
    # request latencies (histograms, seconds)
    "vllm:time_to_first_token_seconds": Term(TTFT, "histogram"),
    "sglang:time_to_first_token_seconds": Term(TTFT, "histogram"),
    "vllm:inter_token_latency_seconds": Term(ITL, "histogram"),
    "vllm:time_per_output_token_seconds": Term(ITL, "histogram"),
    "sglang:inter_token_latency_seconds": Term(ITL, "histogram"),
    "tgi_request_mean_time_per_token_duration": Term(ITL, "histogram"),
    "vllm:e2e_request_latency_seconds": Term(E2E, "histogram"),
    "sglang:e2e_request_latency_seconds": Term(E2E, "histogram"),
    "tgi_request_duration": Term(E2E, "histogram"),
    "vllm:request_queue_time_seconds": Term(QUEUE_TIME, "histogram"),
    "sglang:queue_time_seconds": Term(QUEUE_TIME, "histogram"),
    "tgi_request_queue_duration": Term(QUEUE_TIME, "histogram"),
    "vllm:request_prefill_time_seconds": Term(PREFILL_TIME, "histogram"),
    "vllm:request_decode_time_seconds": Term(DECODE_TIME, "histogram"),
    "vllm:request_inference_time_seconds": Term(INFERENCE_TIME, "histogram"),
    "tgi_request_inference_duration": Term(INFERENCE_TIME, "histogram"),
}


def lookup(family: str) -> Term | None:
    """The term for a family name; a counter exposed without a TYPE line keeps its `_total`."""
    term = VOCABULARY.get(family)
    if term is None and family.endswith("_total"):
        term = VOCABULARY.get(family[: -len("_total")])
    return term
