"""Injected failures: HTTP errors with an OpenAI error body, and connections dropped mid-stream."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.serve.helpers import chat_body, sse_events, timing_headers
from workbench.serve import ServerHandle, start_server

FAST = timing_headers(ttft_ms=5, token_delay_ms=2)


@pytest.fixture(scope="module")
def failing_server() -> Iterator[ServerHandle]:
    # Every request fails with 500 and (were it not failing) every stream would drop: errors win.
    with start_server(error_rate=1.0, ttft_ms=5, token_delay_ms=2) as handle:
        yield handle


@pytest.fixture(scope="module")
def dropping_server() -> Iterator[ServerHandle]:
    with start_server(drop_rate=1.0, ttft_ms=5, token_delay_ms=2) as handle:
        yield handle


def sdk(server: ServerHandle, **headers: str) -> openai.OpenAI:
    # max_retries=0: the SDK retries a 500 twice by default, which would hide how many requests failed.
    return openai.OpenAI(
        base_url=server.base_url, api_key="x", max_retries=0, default_headers={**FAST, **headers}
    )


def test_fail_header_gives_http_500_with_error_body(server: ServerHandle) -> None:
    response = httpx.post(
        server.base_url + "/chat/completions", json=chat_body(3), headers={"x-workbench-fail": "500"}
    )
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["type"] == "server_error" and "injected" in error["message"]
    with pytest.raises(openai.InternalServerError) as caught:
        sdk(server, **{"x-workbench-fail": "500"}).chat.completions.create(**chat_body(3), stream=True)
    assert caught.value.status_code == 500


def test_fail_header_takes_other_statuses(server: ServerHandle) -> None:
    with pytest.raises(openai.RateLimitError):
        sdk(server, **{"x-workbench-fail": "429"}).completions.create(model="m", prompt="p", max_tokens=2)


def test_error_rate_one_fails_every_request(failing_server: ServerHandle) -> None:
    client = sdk(failing_server)
    for stream in (False, True):
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(**chat_body(3), stream=stream)
    assert httpx.get(failing_server.base_url + "/models").status_code == 200


def test_drop_header_cuts_the_stream_without_its_end(server: ServerHandle) -> None:
    events = []
    headers = {**FAST, "x-workbench-fail": "drop"}
    with (
        pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"),
        httpx.stream(
            "POST", server.base_url + "/chat/completions", json=chat_body(10, stream=True), headers=headers
        ) as r,
    ):
        events.extend(sse_events(r.iter_lines()))
    contents = [e["choices"][0]["delta"].get("content") for e in events if isinstance(e, dict)]
    assert contents[0] == "" and len(contents[1:]) == 5  # the role chunk, then half of the 10 tokens
    assert "[DONE]" not in events


def test_dropped_stream_raises_in_the_openai_sdk(server: ServerHandle) -> None:
    stream = sdk(server, **{"x-workbench-fail": "drop"}).chat.completions.create(**chat_body(6), stream=True)
    seen = []
    # The SDK (on httpx2) wraps the broken read in APIConnectionError, an APIError.
    with pytest.raises(openai.APIError):
        for chunk in stream:
            seen.append(chunk)
    assert 1 <= len(seen) < 7


def test_drop_rate_one_drops_streams_only(dropping_server: ServerHandle) -> None:
    client = sdk(dropping_server)
    reply = client.completions.create(model="m", prompt="p", max_tokens=4)
    assert reply.choices[0].text == "tok0 tok1 tok2 tok3"
    with pytest.raises(openai.APIError):
        list(client.completions.create(model="m", prompt="p", max_tokens=4, stream=True))


def test_a_drop_is_not_logged_as_a_server_error(dropping_server: ServerHandle) -> None:
    body = {"model": "m", "prompt": "p", "max_tokens": 2, "stream": True}
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("POST", dropping_server.base_url + "/completions", json=body, headers=FAST) as response,
    ):
        response.read()
    assert "Traceback" not in dropping_server.stderr()
