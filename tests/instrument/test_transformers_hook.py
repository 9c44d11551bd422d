"""Every generate() call inside a profile becomes an llm span with one arrival per decoding step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from tests.tiny_gpt2 import tiny_gpt2

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from transformers.generation.utils import GenerationMixin  # noqa: E402

NEW_TOKENS = 6


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return tiny_gpt2(tmp_path_factory.mktemp("tiny-gpt2"))


def generate(model: Any, batch: int, **kwargs: Any) -> Any:
    ids = torch.randint(0, 500, (batch, 5))
    return model.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=NEW_TOKENS,
        min_new_tokens=NEW_TOKENS,
        do_sample=False,
        pad_token_id=0,
        **kwargs,
    )


class RecordingStreamer:
    def __init__(self) -> None:
        self.puts = 0
        self.ended = False

    def put(self, value: Any) -> None:
        self.puts += 1

    def end(self) -> None:
        self.ended = True


@pytest.mark.parametrize("batch", [1, 3])
def test_generate_is_an_llm_span_with_batch_tokens_per_step(model: Any, batch: int, tmp_path: Path) -> None:
    with wb.profile(store=tmp_path, cpu=False) as run:
        output = generate(model, batch)
    assert output.shape == (batch, 5 + NEW_TOKENS)
    [span] = [s for s in run.recording.spans if s.kind == "llm"]
    assert span.attrs["batch_size"] == batch and span.attrs["input_tokens"] == batch * 5
    arrivals = [t for t in run.recording.tokens if t.request_id == span.span_id]
    assert [t.n_tokens for t in arrivals] == [batch] * NEW_TOKENS
    assert all(span.start_ns < t.t_ns <= span.end_ns for t in arrivals)  # type: ignore[operator]
    tokens = run.metrics["tokens"]
    assert tokens["requests"] == 1 and tokens["output_tokens"] == batch * NEW_TOKENS
    assert tokens["ttft_ms"]["p50"] == pytest.approx((arrivals[0].t_ns - span.start_ns) / 1e6)
    assert tokens["token_count_source"][str(span.span_id)] == "client"


def test_users_streamer_still_receives_everything(model: Any, tmp_path: Path) -> None:
    streamer = RecordingStreamer()
    with wb.profile(store=tmp_path, cpu=False) as run:
        generate(model, 1, streamer=streamer)
    assert streamer.puts == 1 + NEW_TOKENS and streamer.ended  # the prompt, then each step
    assert run.metrics["tokens"]["output_tokens"] == NEW_TOKENS


def test_patch_is_removed_after_the_profile_and_absent_before(model: Any, tmp_path: Path) -> None:
    original = GenerationMixin.generate
    with wb.profile(store=tmp_path, cpu=False):
        assert GenerationMixin.generate is not original
    assert GenerationMixin.generate is original
    generate(model, 1)  # outside a profile: nothing recorded, nothing raised
    assert GenerationMixin.generate is original


def test_patch_is_removed_when_the_block_raises(model: Any, tmp_path: Path) -> None:
    original = GenerationMixin.generate
    with pytest.raises(RuntimeError, match="from the block"), wb.profile(store=tmp_path, cpu=False) as run:
        generate(model, 1)
        raise RuntimeError("from the block")
    assert GenerationMixin.generate is original
    assert run.error == "RuntimeError: from the block"
    assert run.metrics["tokens"]["output_tokens"] == NEW_TOKENS
