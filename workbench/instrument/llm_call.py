"""One LLM request seen on the wire: its `llm` span, phase timestamps and token arrivals.

The `openai` hook and the `httpx` hook meet here. When the SDK makes the call, it opens the LlmCall
(its span starts when `create()` is called) and each HTTP attempt underneath fills in the wire timings;
when plain `httpx` makes it, the HTTP hook opens one itself. Attribute names are the data contract with
`analysis/` (see `analysis/breakdown.py`): `send_ns`, `connect_start_ns`, `connect_end_ns`, `headers_ns`,
`body_end_ns` are run-clock times; `network_wait_ns`, `decode_wait_ns` and `parse_ns` are durations.
`decode_wait_ns` is the time spent blocked waiting for bytes between the first and the last content token:
beside the decode phase's length it tells a stream the client kept waiting on from one it fell behind.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from contextvars import ContextVar
from typing import Any

from workbench.active import Recorder
from workbench.instrument.openai_stream import (
    MAX_JSON_BODY_BYTES,
    ChunkInfo,
    RequestBody,
    SseDecoder,
    read_event,
    read_json_body,
)
from workbench.model.events import Span

# The SDK call in progress in this context: HTTP attempts made inside it report to it.
current_call: ContextVar[LlmCall | None] = ContextVar("workbench_llm_call", default=None)

# Completion text is kept (in memory only, never saved unless --capture-text) to find data dependencies.
MAX_KEPT_OUTPUT_CHARS = 16_384
FINGERPRINT_CHARS = 32
MAX_INDEXED_REQUESTS = 512


class OutputIndex:
    """Fingerprints of finished requests' outputs, to tell which later prompts were built from them."""

    def __init__(self) -> None:
        self._entries: deque[tuple[int, tuple[str, ...]]] = deque(maxlen=MAX_INDEXED_REQUESTS)
        self._lock = threading.Lock()

    def add(self, span_id: int, output: str) -> None:
        text = " ".join(output.split())
        if len(text) < FINGERPRINT_CHARS:
            return
        size = FINGERPRINT_CHARS
        middle = len(text) // 2 - size // 2
        slices = {text[:size], text[middle : middle + size], text[-size:]}
        with self._lock:
            self._entries.append((span_id, tuple(slices)))

    def sources_of(self, prompt: str) -> list[int]:
        if not prompt:
            return []
        text = " ".join(prompt.split())
        with self._lock:
            entries = list(self._entries)
        return sorted(span_id for span_id, slices in entries if any(s in text for s in slices))


_indexes: weakref.WeakKeyDictionary[Recorder, OutputIndex] = weakref.WeakKeyDictionary()
_indexes_lock = threading.Lock()


def output_index(recorder: Recorder) -> OutputIndex:
    with _indexes_lock:
        index = _indexes.get(recorder)
        if index is None:
            index = _indexes[recorder] = OutputIndex()
        return index


class LlmCall:
    """Created when a request starts; the span is opened once the request is known to be an LLM call."""

    def __init__(self, recorder: Recorder, source: str, owner: str) -> None:
        self.recorder = recorder
        self.clock = recorder.clock
        self.source = source
        # "openai": the SDK wrapper ends the span; "httpx": the end of the response body does.
        self.owner = owner
        self.start_ns = self.clock.now_ns()
        self.parent_id = recorder.current_parent_id()
        self.attrs: dict[str, Any] = {"source": source}
        self.span: Span | None = None
        # The span's id, taken before the span opens when a traceparent naming it is sent.
        self.span_key: int | None = None
        self.kind = "llm"
        self.stream: bool | None = None
        self.network_wait_ns = 0
        # Waits after the first content token: the server's pace, unless the reader fell behind it.
        self.stream_wait_ns = 0
        self.pull_ns = 0
        self.finished = False
        self._prompt = ""
        self._output: list[str] = []
        self._output_chars = 0
        self._decoder: SseDecoder | None = None
        self._json_body: bytearray | None = None
        self._last_usage_tokens = 0
        self._counted_tokens = 0
        self._lock = threading.Lock()

    # -- what the request is --------------------------------------------------------------------
    def describe(self, body: RequestBody) -> None:
        self.kind = body.span_kind
        self.attrs.setdefault("model", body.model)
        self.attrs.setdefault("operation", body.operation)
        self.attrs.setdefault("stream", body.stream)
        for key, value in body.params.items():
            self.attrs.setdefault(key, value)
        self._prompt = body.prompt_text
        if self.recorder.capture_text and body.prompt_text:
            self.attrs["prompt"] = body.prompt_text

    def open(self) -> Span:
        if self.span is None:
            model = self.attrs.get("model") or "request"
            name = f"{self.attrs.get('operation', 'chat')} {model}"
            depends = output_index(self.recorder).sources_of(self._prompt)
            if depends:
                self.attrs["depends_on"] = depends
            self.span = self.recorder.open_span(
                name,
                self.kind,
                self.attrs,
                start_ns=self.start_ns,
                parent_id=self.parent_id,
                span_id=self.span_key,
            )
        return self.span

    def reserve_span_id(self) -> int:
        """The id the span has or will have."""
        if self.span is not None:
            return self.span.span_id
        if self.span_key is None:
            self.span_key = self.recorder.reserve_span_id()
        return self.span_key

    # -- the wire ---------------------------------------------------------------------------------
    def begin_attempt(self) -> None:
        """A new HTTP attempt (the SDK retries): earlier attempts' wire timings are replaced."""
        attempts = int(self.attrs.get("attempts", 0))
        if attempts:
            self.attrs.setdefault("retried_after", []).append(self.attrs.get("error", "?"))
        self.attrs["attempts"] = attempts + 1
        for key in ("connect_start_ns", "connect_end_ns", "send_ns", "headers_ns", "body_end_ns", "error"):
            self.attrs.pop(key, None)
        self.attrs.pop("decode_wait_ns", None)
        self.stream_wait_ns = 0

    def on_trace(self, event: str, perf_ns: int) -> None:
        """An httpcore trace event, e.g. `http11.send_request_headers.started`."""
        t_ns = self.clock.from_perf_ns(perf_ns)
        if event == "connection.connect_tcp.started":
            self.attrs["connect_start_ns"] = t_ns
        elif event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            self.attrs["connect_end_ns"] = t_ns
        elif event.endswith("send_request_headers.started"):
            self.attrs["send_ns"] = t_ns
        elif event.endswith("receive_response_headers.complete"):
            self.attrs["headers_ns"] = t_ns

    def on_response(self, status: int, content_type: str) -> None:
        self.attrs["http_status"] = status
        if "headers_ns" not in self.attrs:
            self.attrs["headers_ns"] = self.clock.now_ns()
        if content_type.startswith("text/event-stream"):
            self.stream = True
            self._decoder = SseDecoder()
        else:
            self.stream = False
            self._json_body = bytearray()
        self.attrs["stream"] = self.stream
        if status >= 400:
            self.attrs["error"] = f"HTTP {status}"

    def on_bytes(self, chunk: bytes, wait_ns: int, perf_ns: int) -> None:
        self.network_wait_ns += wait_ns
        if self._counted_tokens:
            self.stream_wait_ns += wait_ns
        t_ns = self.clock.from_perf_ns(perf_ns)
        if self._decoder is not None:
            for data in self._decoder.feed(chunk):
                self._on_event(read_event(data), t_ns)
        elif self._json_body is not None and len(self._json_body) + len(chunk) <= MAX_JSON_BODY_BYTES:
            self._json_body += chunk

    def on_body_end(self) -> None:
        """The body was read to its end; a non-streamed completion arrives as one chunk now."""
        t_ns = self.clock.now_ns()
        self.attrs.setdefault("body_end_ns", t_ns)
        if self._decoder is not None:
            for data in self._decoder.flush():
                self._on_event(read_event(data), t_ns)
        elif self._json_body is not None:
            body, self._json_body = bytes(self._json_body), None
            info = read_json_body(body)
            if info.has_output or info.completion_tokens:
                self._on_event(info, t_ns, whole_body=True)
            elif info.error and "error" not in self.attrs:
                self.attrs["error"] = info.error

    def fail(self, error: BaseException) -> None:
        self.attrs["error"] = f"{type(error).__name__}: {error}"[:300]

    def _on_event(self, info: ChunkInfo, t_ns: int, whole_body: bool = False) -> None:
        if info.error:
            self.attrs["error"] = info.error[:300]
        if info.model:
            self.attrs.setdefault("response_model", info.model)
        if info.finish_reason:
            self.attrs["finish_reason"] = info.finish_reason
        if info.prompt_tokens is not None:
            self.attrs["input_tokens"] = info.prompt_tokens
        if info.server_metrics:
            self.attrs["server_metrics"] = info.server_metrics
        n_tokens = 0
        if whole_body:
            n_tokens = info.completion_tokens or (1 if info.has_output else 0)
            self._keep_output(info.text)
        elif info.has_output:
            if info.completion_tokens is not None and info.completion_tokens > self._last_usage_tokens:
                # vLLM's continuous_usage_stats: cumulative counts give each chunk's exact token count.
                n_tokens = info.completion_tokens - self._last_usage_tokens
                self.attrs.setdefault("chunk_tokens", "usage")
            else:
                n_tokens = 1
                self.attrs["chunk_tokens"] = "assumed"
            if self._counted_tokens:
                # Up to this (so far the last) content token: reads after it (usage, [DONE]) are not decode.
                self.attrs["decode_wait_ns"] = self.stream_wait_ns
            self._counted_tokens += n_tokens
            self._keep_output(info.text)
        if info.completion_tokens is not None:
            self._last_usage_tokens = max(self._last_usage_tokens, info.completion_tokens)
            self.attrs["usage_output_tokens"] = info.completion_tokens
        if n_tokens:
            span = self.open()
            self.recorder.add_tokens(span.span_id, n_tokens, info.text or None, t_ns=t_ns)

    def _keep_output(self, text: str) -> None:
        if self._output_chars < MAX_KEPT_OUTPUT_CHARS:
            self._output.append(text)
            self._output_chars += len(text)

    def record_stream_parse_time(self) -> None:
        """The SDK's time pulling items from the stream, less the time it waited for bytes."""
        self.attrs["parse_ns"] = max(0, self.pull_ns - self.network_wait_ns)

    # -- the end --------------------------------------------------------------------------------
    def finish(self, end_ns: int | None = None) -> None:
        with self._lock:
            if self.finished:
                return
            self.finished = True
        span = self.open()
        span.end_ns = self.clock.now_ns() if end_ns is None else end_ns
        if self.network_wait_ns:
            self.attrs["network_wait_ns"] = self.network_wait_ns
        if self.pull_ns:
            self.record_stream_parse_time()
        if self._output and "error" not in self.attrs:
            output_index(self.recorder).add(span.span_id, "".join(self._output))
        self._output = []
        self._prompt = ""


def perf_ns() -> int:
    return time.perf_counter_ns()
