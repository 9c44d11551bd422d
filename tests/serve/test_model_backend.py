"""The model backend: a tiny random GPT-2 made locally, streamed one decoding step per chunk."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from workbench.serve import ServerHandle, start_server


@pytest.fixture(scope="module")
def model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    # A fresh cache directory: the test also covers creating and saving the model, not only loading it.
    with start_server("model", model_dir=tmp_path_factory.mktemp("tiny-gpt2"), seed=3) as handle:
        yield handle


def test_streams_real_tokens_with_matching_usage(model_server: ServerHandle) -> None:
    client = openai.OpenAI(base_url=model_server.base_url, api_key="x", max_retries=0)
    stream = client.chat.completions.create(
        model="tiny-gpt2",
        messages=[{"role": "user", "content": "tell me a story"}],
        max_tokens=12,
        stream=True,
        stream_options={"include_usage": True},
    )
    contents, usage = [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            contents.append(chunk.choices[0].delta.content)
        if chunk.usage is not None:
            usage = chunk.usage
    words = "".join(contents).split()
    # One decoding step per chunk: each chunk one word.
    assert len(contents) == 12 and all(re.fullmatch(r"w\d+", word) for word in words)
    assert usage is not None and usage.completion_tokens == len(words) == 12
    assert usage.prompt_tokens == 4


def test_each_step_is_sent_as_it_is_produced(model_server: ServerHandle) -> None:
    # 64 decoding steps take ~220 ms here and the first chunk comes ~10 ms after the request; a server that
    # sent the steps only once generate() returned would deliver the first at the end with the rest. Judged
    # by when the first chunk came against the last (not by the gaps between chunks: a client that is
    # descheduled for a few ms on a loaded machine reads several at once), a stall of ~100 ms before the
    # first chunk would be needed to fail it.
    client = openai.OpenAI(base_url=model_server.base_url, api_key="x", max_retries=0)
    started = time.perf_counter()
    arrivals = [
        time.perf_counter() - started
        for chunk in client.completions.create(model="tiny-gpt2", prompt="go", max_tokens=64, stream=True)
        if chunk.choices and chunk.choices[0].text
    ]
    assert len(arrivals) == 64
    assert arrivals[0] < arrivals[-1] / 2, f"first chunk at {arrivals[0]:.3f} s, last at {arrivals[-1]:.3f} s"


def test_non_streaming_and_completions(model_server: ServerHandle) -> None:
    client = openai.OpenAI(base_url=model_server.base_url, api_key="x", max_retries=0)
    reply = client.completions.create(model="tiny-gpt2", prompt="w5 w6 w7", max_tokens=5)
    assert reply.usage is not None and reply.usage.completion_tokens == 5
    assert len((reply.choices[0].text or "").split()) == 5 and reply.choices[0].finish_reason == "length"
    models = client.models.list()
    assert [m.id for m in models.data] == ["tiny-gpt2"]


def test_the_model_is_saved_for_next_time(
    model_server: ServerHandle, tmp_path_factory: pytest.TempPathFactory
) -> None:
    saved = list(Path(tmp_path_factory.getbasetemp()).glob("tiny-gpt2*/seed-3/config.json"))
    assert saved, "the tiny GPT-2 was not saved with save_pretrained"


def test_a_client_that_leaves_frees_the_model_for_the_next_request(model_server: ServerHandle) -> None:
    client = openai.OpenAI(base_url=model_server.base_url, api_key="x", max_retries=0)
    long = client.completions.create(model="tiny-gpt2", prompt="go", max_tokens=500, stream=True)
    for _ in zip(range(3), long, strict=False):
        pass
    long.close()  # generation stops at its next step and releases the lock
    started = time.perf_counter()
    reply = client.completions.create(model="tiny-gpt2", prompt="again", max_tokens=3, timeout=20)
    assert reply.usage is not None and reply.usage.completion_tokens == 3
    assert time.perf_counter() - started < 2, "the abandoned generation kept the model"
