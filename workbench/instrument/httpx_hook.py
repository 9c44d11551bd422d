"""Record LLM requests made with `httpx` (or its successor `httpx2`, which the `openai` SDK uses).

`Client.send` / `AsyncClient.send` are patched while a profile is active. A request is an LLM request
when its JSON body names a model and something to generate from, when the `openai` SDK is making it,
or when the response is `text/event-stream`. For those, httpcore's `trace` extension gives the
connection timings, and the response's byte stream is wrapped so that each SSE chunk is stamped when
its bytes arrive. Any other request passes through with nothing recorded.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import ModuleType
from typing import Any

from workbench.active import Recorder, active
from workbench.instrument.llm_call import LlmCall, current_call
from workbench.instrument.openai_stream import RequestBody, read_request
from workbench.instrument.trace_context import propagate

MAX_REQUEST_BODY_BYTES = 8 * 1024 * 1024


def request_body(request: Any) -> RequestBody | None:
    """The LLM request a JSON POST body describes, or None."""
    if request.method != "POST" or "json" not in request.headers.get("content-type", ""):
        return None
    try:
        content = request.content
    except Exception:  # a streaming request body that was not read: not an API call we can tell
        return None
    if not content or len(content) > MAX_REQUEST_BODY_BYTES:
        return None
    try:
        payload = json.loads(content)
    except ValueError:
        return None
    return read_request(payload, request.url.path) if isinstance(payload, dict) else None


def _end_of_body(call: LlmCall) -> None:
    call.on_body_end()
    # The SDK wrapper ends a non-streamed SDK call itself, after the SDK has parsed the body.
    if call.owner != "openai" or call.stream:
        call.finish()


def _stream_classes(module: ModuleType) -> tuple[type, type]:
    """Byte-stream wrappers deriving from this module's own base classes, which httpx checks for."""

    class TimedSyncStream(module.SyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, inner: Any, call: LlmCall) -> None:
            self.inner = inner
            self.call = call

        def __iter__(self) -> Iterator[bytes]:
            call = self.call
            iterator = iter(self.inner)
            while True:
                before = time.perf_counter_ns()
                try:
                    chunk = next(iterator)
                except StopIteration:
                    break
                except BaseException as error:
                    call.fail(error)
                    _end_of_body(call)
                    raise
                after = time.perf_counter_ns()
                call.on_bytes(chunk, after - before, after)
                yield chunk
            _end_of_body(call)

        def close(self) -> None:
            try:
                self.inner.close()
            finally:
                _end_of_body(self.call)

    class TimedAsyncStream(module.AsyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, inner: Any, call: LlmCall) -> None:
            self.inner = inner
            self.call = call

        async def __aiter__(self) -> AsyncIterator[bytes]:
            call = self.call
            iterator = self.inner.__aiter__()
            while True:
                before = time.perf_counter_ns()
                try:
                    chunk = await iterator.__anext__()
                except StopAsyncIteration:
                    break
                except BaseException as error:
                    call.fail(error)
                    _end_of_body(call)
                    raise
                after = time.perf_counter_ns()
                call.on_bytes(chunk, after - before, after)
                yield chunk
            _end_of_body(call)

        async def aclose(self) -> None:
            try:
                await self.inner.aclose()
            finally:
                _end_of_body(self.call)

    return TimedSyncStream, TimedAsyncStream


class _Attempt:
    """One `send()` while a profile is active: decides whether it is an LLM request and wires it up."""

    def __init__(self, recorder: Recorder, source: str, request: Any) -> None:
        self.request = request
        sdk_call = current_call.get()
        self.owned = sdk_call is None
        if sdk_call is not None:
            self.call = sdk_call
            self.is_llm = True
        else:
            self.call = LlmCall(recorder, source, owner="httpx")
            body = request_body(request)
            if body is not None:
                self.call.describe(body)
            self.is_llm = body is not None
        self.call.begin_attempt()
        if self.is_llm:
            propagate(self.call, request)
        self.previous_trace = request.extensions.get("trace")

    def restore_trace(self) -> None:
        if self.previous_trace is None:
            self.request.extensions.pop("trace", None)
        else:
            self.request.extensions["trace"] = self.previous_trace

    def failed(self, error: BaseException) -> None:
        if self.is_llm:
            self.call.fail(error)
            if self.owned:
                self.call.finish()

    def takes(self, response: Any) -> bool:
        """Whether the response belongs to an LLM request; if so, the call records it from here on."""
        content_type = response.headers.get("content-type", "")
        if not (self.is_llm or content_type.startswith("text/event-stream")):
            return False
        self.call.on_response(response.status_code, content_type)
        self.call.open()
        return True


def _wrap_sync_send(original: Callable[..., Any], source: str, stream_class: type) -> Callable[..., Any]:
    def send(self: Any, request: Any, *, stream: bool = False, **kwargs: Any) -> Any:
        recorder = active()
        if recorder is None:
            return original(self, request, stream=stream, **kwargs)
        attempt = _Attempt(recorder, source, request)
        previous = attempt.previous_trace
        call = attempt.call

        def trace(name: str, info: dict[str, Any]) -> None:
            call.on_trace(name, time.perf_counter_ns())
            if previous is not None:
                previous(name, info)

        request.extensions["trace"] = trace
        try:
            # Always streamed underneath, so the body's arrival can be timed; read below if asked.
            response = original(self, request, stream=True, **kwargs)
        except BaseException as error:
            attempt.failed(error)
            raise
        finally:
            attempt.restore_trace()
        if attempt.takes(response):
            response.stream = stream_class(response.stream, call)
        if not stream:
            try:
                response.read()
            except BaseException:
                response.close()
                raise
        return response

    send.__wrapped__ = original  # type: ignore[attr-defined]
    return send


def _wrap_async_send(original: Callable[..., Any], source: str, stream_class: type) -> Callable[..., Any]:
    async def send(self: Any, request: Any, *, stream: bool = False, **kwargs: Any) -> Any:
        recorder = active()
        if recorder is None:
            return await original(self, request, stream=stream, **kwargs)
        attempt = _Attempt(recorder, source, request)
        previous: Callable[[str, dict[str, Any]], Awaitable[None]] | None = attempt.previous_trace
        call = attempt.call

        async def trace(name: str, info: dict[str, Any]) -> None:
            call.on_trace(name, time.perf_counter_ns())
            if previous is not None:
                await previous(name, info)

        request.extensions["trace"] = trace
        try:
            response = await original(self, request, stream=True, **kwargs)
        except BaseException as error:
            attempt.failed(error)
            raise
        finally:
            attempt.restore_trace()
        if attempt.takes(response):
            response.stream = stream_class(response.stream, call)
        if not stream:
            try:
                await response.aread()
            except BaseException:
                await response.aclose()
                raise
        return response

    send.__wrapped__ = original  # type: ignore[attr-defined]
    return send


class HttpxHook:
    """Patches `Client.send` and `AsyncClient.send` of `httpx` or `httpx2` between install and uninstall."""

    def __init__(self, module_name: str = "httpx") -> None:
        self.name = module_name
        self._originals: list[tuple[type, Callable[..., Any]]] = []

    def is_available(self) -> tuple[bool, str]:
        if self.name not in sys.modules:
            return False, f"{self.name} is not imported"
        return True, ""

    def install(self) -> None:
        module = sys.modules[self.name]
        sync_stream, async_stream = _stream_classes(module)
        sync_original = module.Client.__dict__["send"]
        async_original = module.AsyncClient.__dict__["send"]
        module.Client.send = _wrap_sync_send(sync_original, self.name, sync_stream)
        self._originals.append((module.Client, sync_original))
        module.AsyncClient.send = _wrap_async_send(async_original, self.name, async_stream)
        self._originals.append((module.AsyncClient, async_original))

    def uninstall(self) -> None:
        while self._originals:
            owner, original = self._originals.pop()
            owner.send = original  # type: ignore[attr-defined]
