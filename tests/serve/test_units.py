"""The pure parts: schedules, words, the tokenizer, fault plans, option checking. No server."""

from __future__ import annotations

import random

import pytest

from workbench.serve.arguments import options_to_argv
from workbench.serve.backend import RequestError
from workbench.serve.config import Faults, SyntheticTiming
from workbench.serve.faults import FaultPlan, plan_faults
from workbench.serve.protocol import count_prompt_tokens, parse_request, prompt_text
from workbench.serve.synthetic import chunk_sizes, schedule, timing_for, words
from workbench.serve.tokenizer import EOS_ID, WordTokenizer


def test_chunk_sizes_start_with_one_token() -> None:
    assert chunk_sizes(8, 3) == [1, 3, 3, 1]
    assert chunk_sizes(7, 3) == [1, 3, 3]
    assert chunk_sizes(1, 4) == [1]
    assert chunk_sizes(0, 2) == []


def test_schedule_is_cumulative_from_arrival() -> None:
    timing = SyntheticTiming(ttft_ms=100, token_delay_ms=10, tokens_per_chunk=2)
    plan = schedule(5, timing, random.Random(0))
    assert [size for _, size in plan] == [1, 2, 2]
    assert [round(due * 1000, 6) for due, _ in plan] == [100, 120, 140]


def test_jitter_is_bounded_and_seeded() -> None:
    timing = SyntheticTiming(ttft_ms=50, token_delay_ms=10, jitter_ms=4)
    plan = schedule(50, timing, random.Random("7/0"))
    delays = [b - a for (a, _), (b, _) in zip([(0.0, 0), *plan], plan, strict=False)]
    assert abs(delays[0] * 1000 - 50) <= 4
    assert all(abs(d * 1000 - 10) <= 4 for d in delays[1:])
    assert len({round(d, 9) for d in delays[1:]}) > 10  # really jittered
    assert plan == schedule(50, timing, random.Random("7/0"))


def test_words_count_as_tokens() -> None:
    assert words(0, 3) + words(3, 2) == "tok0 tok1 tok2 tok3 tok4"


def test_timing_headers_override_per_request() -> None:
    base = SyntheticTiming()
    changed = timing_for({"x-workbench-ttft-ms": "7.5", "x-workbench-tokens-per-chunk": "4"}, base)
    assert (changed.ttft_ms, changed.tokens_per_chunk, changed.token_delay_ms) == (
        7.5,
        4,
        base.token_delay_ms,
    )
    for header, value in [("x-workbench-token-delay-ms", "-1"), ("x-workbench-tokens-per-chunk", "1.5")]:
        with pytest.raises(RequestError, match=header):
            timing_for({header: value}, base)


def test_tokenizer_round_trips_its_own_words() -> None:
    tokenizer = WordTokenizer(4096)
    decoded = "".join(tokenizer.decode_one(t, i == 0) for i, t in enumerate([5, 4095, 17]))
    assert decoded == "w5 w4095 w17" and tokenizer.encode(decoded) == [5, 4095, 17]
    ids = tokenizer.encode("hello world hello w0 w9999")
    assert ids[0] == ids[2] and all(EOS_ID < i < 4096 for i in ids)


def test_fault_plans() -> None:
    rng = random.Random(0)
    assert plan_faults({}, Faults(), rng, stream=True) == FaultPlan()
    assert plan_faults({}, Faults(error_rate=1.0), rng, stream=False) == FaultPlan(status=500)
    assert plan_faults({}, Faults(drop_rate=1.0), rng, stream=False) == FaultPlan()
    assert plan_faults({"x-workbench-fail": "503"}, Faults(), rng, stream=False).status == 503
    assert FaultPlan(drop=True).drop_after(10) == 5 and FaultPlan().drop_after(10) is None


def test_prompt_text_and_counts() -> None:
    body = b'{"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "a b"}]},'
    body += b' {"role": "user", "content": "c"}]}'
    request = parse_request("chat", body)
    assert prompt_text(request) == "a b\nc" and count_prompt_tokens(prompt_text(request)) == 3
    with pytest.raises(RequestError, match="not JSON"):
        parse_request("completion", b"{")
    with pytest.raises(RequestError, match="one prompt"):
        parse_request("completion", b'{"prompt": ["a", "b"]}')


def test_options_to_argv_checks_like_argparse() -> None:
    assert options_to_argv({"ttft_ms": 5, "seed": None, "port": 0}) == ["--ttft-ms", "5", "--port", "0"]
    with pytest.raises(ValueError, match="drop_rate"):
        options_to_argv({"drop_rate": -0.1})
    with pytest.raises(TypeError, match="colour"):
        options_to_argv({"colour": 1})
