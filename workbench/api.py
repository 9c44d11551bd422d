"""The public span and token API: `wb.span(...)` and `wb.llm_request(...)`.

Outside a profile every call returns at once and records nothing.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from workbench.active import Recorder, active, current_span_var
from workbench.model.events import Span

F = TypeVar("F", bound=Callable[..., Any])

SPAN_KINDS = ("llm", "embedding", "retrieval", "tool", "agent", "chain", "parse", "prompt")


class span:
    """A pipeline stage. Use as `with wb.span("retrieve", kind="retrieval"):` or as a decorator."""

    def __init__(self, name: str, kind: str = "chain", **attrs: Any) -> None:
        self.name = name
        self.kind = kind
        self.attrs = attrs
        self._recorder: Recorder | None = None
        self._span: Span | None = None
        self._span_id: int | None = None
        self._token: contextvars.Token[int | None] | None = None

    def __enter__(self) -> span:
        recorder = active()
        if recorder is None:
            return self
        self._recorder = recorder
        self._span = recorder.open_span(self.name, self.kind, dict(self.attrs))
        self._span_id = self._span.span_id
        self._token = current_span_var().set(self._span.span_id)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._span is None or self._recorder is None:
            return
        if exc_type is not None:
            self._span.attrs["error"] = exc_type.__name__
        self._recorder.close_span(self._span)
        if self._token is not None:
            # ValueError: exited in another context than it was entered (a generator finalised elsewhere).
            with contextlib.suppress(ValueError):
                current_span_var().reset(self._token)
        self._span = None
        self._token = None

    @property
    def span_id(self) -> int | None:
        """The recorded span's id (also after the block); None outside a profile."""
        return self._span_id

    def set(self, **attrs: Any) -> None:
        """Add attributes to the open span (a no-op outside a profile)."""
        if self._span is not None:
            self._span.attrs.update(attrs)

    def __call__(self, func: F) -> F:
        name, kind, attrs = self.name, self.kind, self.attrs
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with span(name, kind, **attrs):
                    return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with span(name, kind, **attrs):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class llm_request(span):
    """A streamed LLM request: call `.chunk()` per arrival and `.usage()` when the server reports counts.

    `with wb.llm_request(model="gpt2", input_tokens=12) as req:` opens an `llm` span whose start is the
    request's send time; each `req.chunk(n_tokens, text)` records an arrival on the run clock.
    """

    def __init__(
        self, model: str | None = None, input_tokens: int | None = None, name: str | None = None, **attrs: Any
    ) -> None:
        if model is not None:
            attrs["model"] = model
        if input_tokens is not None:
            attrs["input_tokens"] = input_tokens
        super().__init__(name or f"llm {model or 'request'}", kind="llm", **attrs)

    def __enter__(self) -> llm_request:
        super().__enter__()
        return self

    def chunk(self, n_tokens: int = 1, text: str | None = None) -> None:
        if self._span is None or self._recorder is None:
            return
        self._recorder.add_tokens(self._span.span_id, n_tokens, text)

    def usage(self, output_tokens: int | None = None, input_tokens: int | None = None) -> None:
        if self._span is None:
            return
        if output_tokens is not None:
            self._span.attrs["usage_output_tokens"] = int(output_tokens)
        if input_tokens is not None:
            self._span.attrs["input_tokens"] = int(input_tokens)
