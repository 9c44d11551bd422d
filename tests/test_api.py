"""The public span/token API, with a recorder activated by hand (no profiling session involved)."""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Iterator

import pytest

import workbench.api as wb
from workbench.active import Recorder, activate, active, deactivate
from workbench.clock import RunClock
from workbench.model import Recording, Span


def _new_recorder(capture_text: bool = False) -> Recorder:
    return Recorder(RunClock.start(), Recording(), capture_text=capture_text)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    assert active() is None, "a previous test left a recorder active"
    rec = _new_recorder()
    activate(rec)
    try:
        yield rec
    finally:
        deactivate(rec)


def _by_name(recorder: Recorder) -> dict[str, Span]:
    spans = recorder.recording.spans
    assert len({s.name for s in spans}) == len(spans), "test span names must be unique"
    return {s.name: s for s in spans}


def test_nested_spans_record_parent_ids_and_close(recorder: Recorder) -> None:
    with wb.span("outer") as outer, wb.span("inner", kind="retrieval", k=3) as inner:
        outer_id = outer.span_id
        assert outer_id is not None and inner.span_id is not None
        inner.set(hits=2)
    with wb.span("after"):
        pass
    spans = _by_name(recorder)
    assert spans["outer"].parent_id is None
    assert spans["inner"].parent_id == outer_id
    assert spans["after"].parent_id is None  # the context was restored when outer closed
    assert spans["inner"].kind == "retrieval"
    assert spans["inner"].attrs == {"k": 3, "hits": 2}
    for span in spans.values():
        assert span.end_ns is not None and span.end_ns >= span.start_ns
    assert spans["outer"].start_ns <= spans["inner"].start_ns
    assert spans["inner"].end_ns <= spans["outer"].end_ns  # type: ignore[operator]
    assert spans["inner"].thread_id == threading.get_ident()
    assert recorder.recording.threads[threading.get_ident()] == threading.current_thread().name


def test_decorator_on_a_sync_function(recorder: Recorder) -> None:
    @wb.span("double", kind="tool")
    def double(x: int) -> int:
        """Doubles."""
        return 2 * x

    assert double.__name__ == "double" and double.__doc__ == "Doubles."
    with wb.span("outer") as outer:
        outer_id = outer.span_id
        assert double(21) == 42
    assert double(1) == 2
    doubles = [s for s in recorder.recording.spans if s.name == "double"]
    assert [s.parent_id for s in doubles] == [outer_id, None]
    assert all(s.kind == "tool" and s.end_ns is not None for s in doubles)


def test_decorator_on_an_async_function(recorder: Recorder) -> None:
    @wb.span("fetch", kind="retrieval")
    async def fetch(x: int) -> int:
        await asyncio.sleep(0)
        with wb.span("parse"):
            return x + 1

    assert inspect.iscoroutinefunction(fetch)
    with wb.span("outer"):
        assert asyncio.run(fetch(1)) == 2
    spans = _by_name(recorder)
    assert spans["fetch"].parent_id == spans["outer"].span_id
    assert spans["parse"].parent_id == spans["fetch"].span_id
    # The span covers the awaited body, not just the creation of the coroutine.
    assert spans["fetch"].end_ns >= spans["parse"].end_ns  # type: ignore[operator]


def test_spans_nest_per_asyncio_task(recorder: Recorder) -> None:
    async def worker(name: str) -> None:
        with wb.span(name):
            await asyncio.sleep(0)  # let the other task run while this span is open
            with wb.span(f"{name}.child"):
                await asyncio.sleep(0.001)

    async def main() -> None:
        with wb.span("gather"):
            await asyncio.gather(worker("a"), worker("b"))

    asyncio.run(main())
    spans = _by_name(recorder)
    gather = spans["gather"].span_id
    assert spans["a"].parent_id == gather
    assert spans["b"].parent_id == gather
    assert spans["a.child"].parent_id == spans["a"].span_id
    assert spans["b.child"].parent_id == spans["b"].span_id


def test_a_span_in_a_new_thread_hangs_under_the_root_span(recorder: Recorder) -> None:
    root = recorder.open_span("cell", "cell", {})
    recorder.root_span_id = root.span_id

    def work() -> None:
        with wb.span("in-thread"):
            pass

    with wb.span("outer"):
        thread = threading.Thread(target=work, name="worker-7")
        thread.start()
        thread.join()
    spans = _by_name(recorder)
    # A fresh thread starts with an empty context: not under "outer", but under the run's root span.
    assert spans["in-thread"].parent_id == root.span_id
    assert spans["outer"].parent_id == root.span_id
    assert spans["in-thread"].thread_id == thread.ident
    assert recorder.recording.threads[thread.ident or 0] == "worker-7"


def test_an_exception_is_recorded_and_re_raised_unchanged(recorder: Recorder) -> None:
    error = ValueError("bad input")
    with pytest.raises(ValueError) as info, wb.span("failing"):
        raise error
    assert info.value is error

    @wb.span("decorated")
    def boom() -> None:
        raise KeyError("k")

    with pytest.raises(KeyError):
        boom()
    spans = _by_name(recorder)
    assert spans["failing"].attrs["error"] == "ValueError"
    assert spans["decorated"].attrs["error"] == "KeyError"
    assert spans["failing"].end_ns is not None
    with wb.span("next"):
        pass
    assert _by_name(recorder)["next"].parent_id is None  # the failed span did not stay current


def test_outside_a_profile_nothing_is_recorded_and_calls_are_cheap() -> None:
    assert active() is None
    bystander = _new_recorder()  # never activated: must stay empty

    @wb.span("f")
    def f(x: int) -> int:
        return x

    with wb.span("s", kind="tool", a=1) as s:
        s.set(b=2)
        assert s.span_id is None
    with wb.llm_request(model="m") as req:
        req.chunk(3, "abc")
        req.usage(output_tokens=3)
    assert f(5) == 5
    start = time.perf_counter()
    for _ in range(10_000):
        with wb.span("hot"):
            pass
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5, f"10k no-op spans took {elapsed:.3f} s"
    assert bystander.recording == Recording()


def test_llm_request_records_tokens_under_its_span(recorder: Recorder) -> None:
    with wb.llm_request(model="gpt2", input_tokens=12) as req:
        req.chunk(1, "Hel")
        req.chunk(2, "lo!")
        req.usage(output_tokens=3)
    (span,) = recorder.recording.spans
    assert (span.kind, span.name) == ("llm", "llm gpt2")
    assert span.attrs == {"model": "gpt2", "input_tokens": 12, "usage_output_tokens": 3}
    tokens = recorder.recording.tokens
    assert [t.request_id for t in tokens] == [span.span_id, span.span_id]
    assert [t.n_tokens for t in tokens] == [1, 2]
    assert [t.text for t in tokens] == [None, None]  # text is kept only when asked for
    assert span.end_ns is not None
    assert span.start_ns <= tokens[0].t_ns <= tokens[1].t_ns <= span.end_ns


def test_llm_request_keeps_text_when_capture_is_on() -> None:
    rec = _new_recorder(capture_text=True)
    activate(rec)
    try:
        with wb.llm_request(name="chat") as req:
            req.chunk(1, "Hi")
    finally:
        deactivate(rec)
    assert rec.recording.spans[0].name == "chat"
    assert [t.text for t in rec.recording.tokens] == ["Hi"]


def test_profiles_do_not_nest(recorder: Recorder) -> None:
    with pytest.raises(RuntimeError):
        activate(_new_recorder())
    assert active() is recorder
