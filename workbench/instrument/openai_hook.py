"""Record `openai` SDK calls: chat completions, completions and responses, sync and async.

The SDK sends through `httpx2` (or `httpx`), whose hook times the wire and reads the stream. This hook
adds what only the SDK call knows: when the user's call began (so client-side queueing and retries show),
its parameters, the exception it raised, and how long the SDK spent turning bytes into objects.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from typing import Any

from workbench.active import active
from workbench.instrument.llm_call import LlmCall, current_call
from workbench.instrument.openai_stream import read_request

# (module, class, endpoint path) of the SDK methods that make one model call each.
CREATE_METHODS = (
    ("openai.resources.chat.completions", "Completions", "/chat/completions"),
    ("openai.resources.chat.completions", "AsyncCompletions", "/chat/completions"),
    ("openai.resources.completions", "Completions", "/completions"),
    ("openai.resources.completions", "AsyncCompletions", "/completions"),
    ("openai.resources.responses", "Responses", "/responses"),
    ("openai.resources.responses", "AsyncResponses", "/responses"),
)


def _call_of(sdk_stream: Any) -> LlmCall | None:
    """The LlmCall whose timed byte stream this SDK stream reads (set by the HTTP hook)."""
    byte_stream = getattr(getattr(sdk_stream, "response", None), "stream", None)
    call = getattr(byte_stream, "call", None)
    return call if isinstance(call, LlmCall) else None


def _start(path: str, kwargs: dict[str, Any]) -> LlmCall | None:
    recorder = active()
    if recorder is None or current_call.get() is not None:
        return None
    call = LlmCall(recorder, "openai", owner="openai")
    body = read_request(kwargs, path)
    if body is not None:
        call.describe(body)
    return call


def _failed(call: LlmCall, error: BaseException) -> None:
    call.fail(error)
    status = getattr(error, "status_code", None)
    if isinstance(status, int):
        call.attrs["http_status"] = status
    call.finish()


def _returned(call: LlmCall, result: Any) -> None:
    if _call_of(result) is call:
        return  # a stream: it ends when its body does
    body_end = call.attrs.get("body_end_ns")
    if isinstance(body_end, int):
        call.attrs["parse_ns"] = max(0, call.clock.now_ns() - body_end)
    call.finish()


def _wrap_create(original: Callable[..., Any], path: str) -> Callable[..., Any]:
    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = _start(path, kwargs)
        if call is None:
            return original(self, *args, **kwargs)
        token = current_call.set(call)
        try:
            result = original(self, *args, **kwargs)
        except BaseException as error:
            _failed(call, error)
            raise
        finally:
            current_call.reset(token)
        _returned(call, result)
        return result

    create.__wrapped__ = original  # type: ignore[attr-defined]
    return create


def _wrap_async_create(original: Callable[..., Any], path: str) -> Callable[..., Any]:
    async def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = _start(path, kwargs)
        if call is None:
            return await original(self, *args, **kwargs)
        token = current_call.set(call)
        try:
            result = await original(self, *args, **kwargs)
        except BaseException as error:
            _failed(call, error)
            raise
        finally:
            current_call.reset(token)
        _returned(call, result)
        return result

    create.__wrapped__ = original  # type: ignore[attr-defined]
    return create


def _wrap_stream(original: Callable[..., Generator[Any, None, None]]) -> Callable[..., Iterator[Any]]:
    def __stream__(self: Any) -> Iterator[Any]:
        call = _call_of(self)
        inner = original(self)
        if call is None:
            yield from inner
            return
        try:
            while True:
                before = time.perf_counter_ns()
                try:
                    item = next(inner)
                except StopIteration:
                    return
                finally:
                    call.pull_ns += time.perf_counter_ns() - before
                yield item
        finally:
            inner.close()
            call.record_stream_parse_time()

    __stream__.__wrapped__ = original  # type: ignore[attr-defined]
    return __stream__


def _wrap_async_stream(
    original: Callable[..., AsyncGenerator[Any, None]],
) -> Callable[..., AsyncIterator[Any]]:
    async def __stream__(self: Any) -> AsyncIterator[Any]:
        call = _call_of(self)
        inner = original(self)
        if call is None:
            async for item in inner:
                yield item
            return
        try:
            while True:
                before = time.perf_counter_ns()
                try:
                    item = await inner.__anext__()
                except StopAsyncIteration:
                    return
                finally:
                    call.pull_ns += time.perf_counter_ns() - before
                yield item
        finally:
            await inner.aclose()
            call.record_stream_parse_time()

    __stream__.__wrapped__ = original  # type: ignore[attr-defined]
    return __stream__


class OpenAIHook:
    """Patches the SDK's create methods and its stream classes between install and uninstall."""

    name = "openai"

    def __init__(self) -> None:
        self._originals: list[tuple[type, str, Any]] = []

    def is_available(self) -> tuple[bool, str]:
        if "openai" not in sys.modules:
            return False, "openai is not imported"
        return True, ""

    def install(self) -> None:
        for module_name, class_name, path in CREATE_METHODS:
            owner = _find_class(module_name, class_name)
            original = None if owner is None else owner.__dict__.get("create")
            if owner is None or original is None:
                continue  # an SDK version without this API
            is_async = class_name.startswith("Async")
            self._patch(owner, "create", (_wrap_async_create if is_async else _wrap_create)(original, path))
        streaming = importlib.import_module("openai._streaming")
        self._patch(streaming.Stream, "__stream__", _wrap_stream(streaming.Stream.__dict__["__stream__"]))
        self._patch(
            streaming.AsyncStream,
            "__stream__",
            _wrap_async_stream(streaming.AsyncStream.__dict__["__stream__"]),
        )

    def _patch(self, owner: type, attribute: str, replacement: Any) -> None:
        self._originals.append((owner, attribute, owner.__dict__[attribute]))
        setattr(owner, attribute, replacement)

    def uninstall(self) -> None:
        while self._originals:
            owner, attribute, original = self._originals.pop()
            setattr(owner, attribute, original)


def _find_class(module_name: str, class_name: str) -> type | None:
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    owner = getattr(module, class_name, None)
    return owner if isinstance(owner, type) else None
