"""The server speaks vLLM's language: `/metrics` from its own scheduler (a planted queue), per-request
metrics in responses, and `/start_profile` / `/stop_profile` writing a real torch.profiler trace. Scraped
by `wb.profile(server=...)`, the queue lands in `run.telemetry`, and `server_queueing` tells it apart
from a server with enough slots."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path

import httpx
import httpx2
import openai
import pytest

import workbench as wb
from workbench.serve import start_server

STREAMS = 16


async def _streams(base_url: str, n: int) -> None:
    limits = httpx2.Limits(max_connections=100, max_keepalive_connections=100)
    http_client = httpx2.AsyncClient(limits=limits)
    client = openai.AsyncOpenAI(base_url=base_url, api_key="local", http_client=http_client)

    async def one() -> None:
        stream = await client.chat.completions.create(
            model="tiny",
            messages=[{"role": "user", "content": "where did the time go"}],
            max_tokens=10,
            stream=True,
            stream_options={"include_usage": True},
        )
        async for _ in stream:
            pass

    await asyncio.gather(*(one() for _ in range(n)))
    await client.close()


def _profiled(slots: int, tmp_path: Path) -> wb.Run:  # type: ignore[name-defined]
    # Requests far longer than the time it takes to send all 16: every one is at the server before
    # the first slot frees, so the queue's peak is exactly 16 - slots whatever the machine's speed.
    with (
        start_server(ttft_ms=400, token_delay_ms=40, max_num_seqs=slots, per_request_metrics=True) as server,
        wb.profile(f"q{slots}", server=server.base_url, server_rate=20, store=tmp_path, cpu=False) as run,
    ):
        asyncio.run(_streams(server.base_url, STREAMS))
    return run


@pytest.mark.timeout(120)
def test_planted_queue_is_scraped_and_found(tmp_path: Path) -> None:
    run = _profiled(4, tmp_path)
    telemetry = run.telemetry
    waiting = telemetry[telemetry.series == "server0.requests_waiting"]
    assert waiting.value.max() == STREAMS - 4
    running = telemetry[telemetry.series == "server0.requests_running"]
    assert running.value.max() == 4
    summary = run.metrics["server"]["series"]["server0.requests_waiting"]
    assert summary["max"] == 12 and summary["raw"] == "vllm:num_requests_waiting"
    assert {"min", "mean", "last"} <= set(summary)
    assert run.metrics["server"]["scraper"]["cpu_ms_per_scrape"] > 0
    queueing = [f for f in run.findings if f.kind == "server_queueing"]
    assert len(queueing) == 1
    assert queueing[0].evidence["waiting_max"] == 12
    assert queueing[0].evidence["waiting_metric"] == "vllm:num_requests_waiting"
    # The TTFT split from the server's own report: 12 of 16 requests waited in its queue.
    split = run.metrics["tokens"]["ttft_split"]
    assert split["requests"] == STREAMS and split["not_available"] == 0
    queued = sorted(run.requests["server_queue_ms"])
    assert queued[:4] == [0.0] * 4 and all(q > 0 for q in queued[4:])


@pytest.mark.timeout(120)
def test_control_with_enough_slots_stays_silent(tmp_path: Path) -> None:
    run = _profiled(STREAMS, tmp_path)
    telemetry = run.telemetry
    assert telemetry[telemetry.series == "server0.requests_waiting"].value.max() == 0
    assert not [f for f in run.findings if f.kind in ("server_queueing", "kv_cache_pressure")]


@pytest.mark.timeout(60)
def test_per_request_metrics_only_when_enabled() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 3}
    for enabled in (False, True):
        with start_server(ttft_ms=5, token_delay_ms=1, per_request_metrics=enabled) as server:
            answer = httpx.post(server.base_url + "/chat/completions", json=body).json()
        if not enabled:
            assert "metrics" not in answer
            continue
        fields = answer["metrics"]
        names = {"time_to_first_token_ms", "generation_time_ms", "queue_time_ms", "mean_itl_ms"}
        assert set(fields) == names | {"tokens_per_second"}
        assert fields["queue_time_ms"] == 0.0 and fields["time_to_first_token_ms"] > 0


@pytest.mark.timeout(60)
def test_metrics_have_vllm_names_and_model_label() -> None:
    with start_server(ttft_ms=1, token_delay_ms=1, max_num_seqs=2, kv_cache_tokens=64) as server:
        httpx.post(server.base_url + "/completions", json={"model": "m", "prompt": "a b", "max_tokens": 2})
        text = httpx.get(server.metrics_url).text
    for name in (
        'vllm:num_requests_running{model_name="synthetic"} 0.0',
        'vllm:num_requests_waiting{model_name="synthetic"} 0.0',
        'vllm:kv_cache_usage_perc{model_name="synthetic"} 0.0',
        'vllm:generation_tokens_total{model_name="synthetic"} 2.0',
        'vllm:prompt_tokens_total{model_name="synthetic"} 2.0',
        "vllm:num_preemptions_total",
        "vllm:request_queue_time_seconds_bucket",
        "vllm:time_to_first_token_seconds_count",
    ):
        assert name in text
    assert "_created" not in text


@pytest.mark.timeout(120)
def test_start_and_stop_profile_write_a_torch_trace(tmp_path: Path) -> None:
    traces = tmp_path / "traces"
    with start_server(ttft_ms=1, token_delay_ms=1, profile_dir=traces) as server:
        root = server.base_url.removesuffix("/v1")
        assert httpx.post(root + "/stop_profile").status_code == 400  # not started
        assert httpx.post(root + "/start_profile", timeout=60).status_code == 200
        assert httpx.post(root + "/start_profile", timeout=60).status_code == 400  # already running
        httpx.post(server.base_url + "/completions", json={"model": "m", "prompt": "a", "max_tokens": 2})
        files = httpx.post(root + "/stop_profile", timeout=60).json()["files"]
    assert len(files) == 1 and files[0].endswith(".pt.trace.json.gz") and "rank0" in files[0]
    with gzip.open(files[0]) as packed:
        trace = json.loads(packed.read())
    assert trace["traceEvents"]


@pytest.mark.timeout(60)
def test_profiling_without_a_directory_is_refused() -> None:
    with start_server(ttft_ms=1, token_delay_ms=1) as server:
        answer = httpx.post(server.base_url.removesuffix("/v1") + "/start_profile")
    assert answer.status_code == 400 and "--profile-dir" in answer.text
