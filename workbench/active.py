"""The active run's recorder: the one place the public API and the auto-instrumentation write to.

The recorder is held in a module global rather than a context variable because threads started inside a
profiled cell (thread pools, client libraries) begin with an empty context and must still record. The
*current span*, which decides parent/child nesting, is a context variable so that asyncio tasks and
threads each nest their own spans correctly.
"""

from __future__ import annotations

import itertools
import threading
from contextvars import ContextVar
from typing import Any

from workbench.clock import RunClock
from workbench.model.events import Span, TokenEvent
from workbench.model.recording import Recording

_current_span: ContextVar[int | None] = ContextVar("workbench_current_span", default=None)


class Recorder:
    def __init__(
        self,
        clock: RunClock,
        recording: Recording,
        capture_text: bool = False,
        *,
        run_id: str = "",
        propagate: bool = False,
    ) -> None:
        self.clock = clock
        self.recording = recording
        self.capture_text = capture_text
        # The run's id names its OpenTelemetry trace (export/otel_ids.py); with `propagate`, LLM requests
        # carry a W3C traceparent naming their own span (instrument/trace_context.py).
        self.run_id = run_id
        self.propagate = propagate and bool(run_id)
        self._span_ids = itertools.count(1)
        # A span opened with no parent in its context (e.g. in a fresh worker thread) hangs under this one.
        self.root_span_id: int | None = None

    def open_span(
        self,
        name: str,
        kind: str,
        attrs: dict[str, Any],
        start_ns: int | None = None,
        parent_id: int | None = None,
        span_id: int | None = None,
    ) -> Span:
        """Open a span now, or at `start_ns` for one recognised after it began (an HTTP request is known
        to be an LLM stream only once its response headers arrive); `parent_id` defaults to the
        current span of this context; `span_id` is one taken earlier with `reserve_span_id()`."""
        thread = threading.current_thread()
        self.recording.threads.setdefault(thread.ident or 0, thread.name)
        parent = parent_id if parent_id is not None else self.current_parent_id()
        span = Span(
            span_id=next(self._span_ids) if span_id is None else span_id,
            name=name,
            kind=kind,
            start_ns=self.clock.now_ns() if start_ns is None else start_ns,
            end_ns=None,
            parent_id=parent,
            thread_id=thread.ident or 0,
            attrs=attrs,
        )
        self.recording.add_span(span)
        return span

    def reserve_span_id(self) -> int:
        """A span id for a span opened later (its trace context is sent before it is known to exist)."""
        return next(self._span_ids)

    def current_parent_id(self) -> int | None:
        """The span a span opened here would hang under."""
        parent = _current_span.get()
        return parent if parent is not None else self.root_span_id

    def close_span(self, span: Span) -> None:
        span.end_ns = self.clock.now_ns()

    def add_tokens(self, request_id: int, n_tokens: int, text: str | None, t_ns: int | None = None) -> None:
        when = self.clock.now_ns() if t_ns is None else t_ns
        kept_text = text if self.capture_text else None
        self.recording.add_token(TokenEvent(request_id, when, n_tokens, kept_text))


_active: Recorder | None = None


def active() -> Recorder | None:
    return _active


def activate(recorder: Recorder) -> None:
    global _active
    if _active is not None:
        raise RuntimeError("a workbench profile is already active; profiles do not nest")
    _active = recorder


def deactivate(recorder: Recorder) -> None:
    global _active
    if _active is recorder:
        _active = None


def current_span_var() -> ContextVar[int | None]:
    return _current_span
