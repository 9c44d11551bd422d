"""A small run with every event kind and CPU samples whose slices are worked out by hand in the tests."""

from __future__ import annotations

import pytest

from workbench.model import Counter, Frame, Recording, Run, Span, StackSample, TokenEvent

MS = 1_000_000
MAIN = 140_012_345_678_901  # pthread ids are this large; the trace must remap them
WORKER = 140_012_345_999_999

F_MAIN = Frame("<module>", "/tmp/ipykernel_1/2.py", 1)
F_F = Frame("f", "/home/u/app.py", 10)
F_G = Frame("g", "/home/u/app.py", 20)
F_H = Frame("h", "/home/u/lib.py", 30)
F_W_RUN = Frame("run", "/home/u/pool.py", 5)
F_W = Frame("work", "/home/u/pool.py", 9)

STACK_A = [F_MAIN, F_F, F_G]
STACK_B = [F_MAIN, F_F, F_H]
STACK_C = [F_MAIN, F_F]
STACK_W = [F_W_RUN, F_W]

# (thread, start ms, duration ms, stack). The main thread: A A B contiguous, an idle ms, C, a 1 ms gap, C A.
SAMPLES = [
    (MAIN, 0.0, 1.0, STACK_A),
    (MAIN, 1.0, 1.0, STACK_A),
    (MAIN, 2.0, 1.0, STACK_B),
    (MAIN, 3.0, 1.0, []),
    (MAIN, 4.0, 1.0, STACK_C),
    (MAIN, 6.0, 1.0, STACK_C),
    (MAIN, 7.0, 2.0, STACK_A),
    (WORKER, 0.5, 1.0, STACK_W),
    (WORKER, 1.5, 1.0, STACK_W),
    (WORKER, 2.5, 3.0, []),
]
DURATION_NS = 10 * MS


def _recording() -> Recording:
    rec = Recording(threads={MAIN: "MainThread", WORKER: "worker-1"})
    rec.add_span(Span(1, "cell", "cell", 0, None, None, MAIN))  # still open when the run ended
    rec.add_span(Span(2, "retrieve", "retrieval", 1 * MS, 3 * MS, 1, MAIN, {"k": 5, "index": "faiss"}))
    rec.add_span(Span(3, "llm gpt2", "llm", 3 * MS, 8 * MS, 1, MAIN, {"model": "gpt2"}))
    rec.add_span(Span(4, "embed", "embedding", 2 * MS, 4 * MS, 1, WORKER, {"batch": [2, 3]}))
    for t_ms, n in ((4, 1), (5, 1), (6, 2)):
        rec.add_token(TokenEvent(3, t_ms * MS, n))
    for t_ms, value in ((0, 10.0), (5, 55.0), (9, 80.0)):
        rec.add_counter(Counter("gpu.util_pct", t_ms * MS, value))
    rec.add_counter(Counter("cpu_pct", 2 * MS, 30.0))
    for thread, start_ms, dur_ms, frames in SAMPLES:
        stack_id = rec.intern_stack(frames)
        rec.add_sample(StackSample(int(start_ms * MS), thread, stack_id, int(dur_ms * MS)))
    return rec


def make_run() -> Run:
    return Run(
        id="20250101-120000-abcd",
        name="export-test",
        created="2025-01-01T12:00:00+00:00",
        duration_ns=DURATION_NS,
        origin_wall_s=1_735_732_800.0,
        recording=_recording(),
    )


@pytest.fixture
def run() -> Run:
    return make_run()
