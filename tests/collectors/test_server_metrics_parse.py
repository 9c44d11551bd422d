"""Recorded scrape texts of vLLM, SGLang and TGI, read into one vocabulary (prometheus_client's parser)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.collectors.server_metrics.convert import bucket_quantile, points
from workbench.collectors.server_metrics.fetch import metrics_url
from workbench.collectors.server_metrics.scrape import parse_scrape

DATA = Path(__file__).parent.parent / "data" / "server_metrics"


def scrape(name: str):  # type: ignore[no-untyped-def]
    return parse_scrape((DATA / name).read_text())


def test_vllm_names_map_to_the_vocabulary_with_raw_names_kept() -> None:
    parsed = scrape("vllm.txt")
    assert parsed.values["requests_running"] == 8.0
    assert parsed.values["requests_waiting"] == 3.0
    assert parsed.values["kv_cache_usage"] == 0.42
    assert parsed.raw["requests_waiting"] == "vllm:num_requests_waiting"
    assert parsed.raw["preemptions"] == "vllm:num_preemptions_total"
    assert parsed.kinds["generation_tokens"] == "counter"
    ttft = parsed.histograms["ttft"]
    assert (ttft.raw, ttft.count, ttft.sum) == ("vllm:time_to_first_token_seconds", 40.0, 3.2)
    assert not any("python_gc" in raw for raw in parsed.raw.values())


def test_sglang_and_tgi_speak_the_same_vocabulary() -> None:
    sglang, tgi = scrape("sglang.txt"), scrape("tgi.txt")
    assert (sglang.values["requests_running"], sglang.values["requests_waiting"]) == (24.0, 7.0)
    assert sglang.values["kv_cache_usage"] == 0.31  # the fuller of two tensor-parallel ranks
    assert sglang.raw["kv_cache_usage"] == "sglang:token_usage"
    assert sglang.values["prefix_cache_hit_rate"] == pytest.approx(0.0075, abs=1e-4)
    assert sglang.values["generation_tokens_per_s"] == 355.0
    assert (tgi.values["requests_running"], tgi.values["requests_waiting"]) == (4.0, 9.0)
    assert tgi.raw["requests_waiting"] == "tgi_queue_size"
    assert tgi.histograms["queue_time"].count == 120.0
    assert tgi.histograms["e2e"].raw == "tgi_request_duration"


def test_an_interval_between_two_scrapes() -> None:
    first, later = scrape("vllm.txt"), scrape("vllm_later.txt")
    got = {p.name: p for p in points(later, first, first, dt_s=0.5)}
    assert got["requests_waiting"].value == 5.0
    assert got["requests_waiting"].raw == "vllm:num_requests_waiting"
    assert got["generation_tokens_per_s"].value == pytest.approx(400.0)  # 200 tokens in 0.5 s
    assert got["preemptions"].value == 3.0  # since the run's first scrape
    assert got["prefix_cache_hit_rate"].value == pytest.approx(0.25)  # 100 hits of 400 queried
    # 20 first tokens in the interval: sum 3.0 s, buckets {0.1: 10, 0.25: 20}
    assert got["ttft_per_s"].value == pytest.approx(40.0)
    assert got["ttft_mean_ms"].value == pytest.approx(150.0)
    assert got["ttft_p50_ms"].value == pytest.approx(100.0)
    assert got["ttft_p90_ms"].value == pytest.approx(220.0)
    assert "queue_time_mean_ms" not in got  # no request was queued in the interval
    assert "ttft_per_s" not in {p.name for p in points(first, None, first, dt_s=0.0)}


def test_quantiles_as_prometheus_interpolates_them() -> None:
    assert bucket_quantile(0.5, {0.1: 0.0, 0.2: 10.0, float("inf"): 10.0}) == pytest.approx(0.15)
    assert bucket_quantile(0.99, {0.1: 1.0, float("inf"): 10.0}) == 0.1  # in the +Inf bucket
    assert bucket_quantile(0.5, {0.1: 0.0, float("inf"): 0.0}) is None


def test_counter_reset_counts_the_new_value() -> None:
    first, later = scrape("vllm_later.txt"), scrape("vllm.txt")
    later.values["generation_tokens"] = 100.0  # the server restarted
    got = {p.name: p.value for p in points(later, first, first, dt_s=1.0)}
    assert got["generation_tokens_per_s"] == 100.0


@pytest.mark.parametrize(
    ("given", "scraped"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/metrics"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000/metrics"),
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/metrics"),
        ("http://h:9/custom/metrics", "http://h:9/custom/metrics"),
    ],
)
def test_a_base_url_gets_metrics(given: str, scraped: str) -> None:
    assert metrics_url(given) == scraped


def test_text_that_is_not_an_exposition_raises_value_error() -> None:
    with pytest.raises(ValueError):
        parse_scrape('vllm:num_requests_waiting{model_name="m" 3\n')
