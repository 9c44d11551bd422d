"""`gil_contention` stays silent: the samples a run keeps cannot tell a thread waiting for the GIL from one
sleeping or blocked in a C call (see the rule's module docstring), so even a planted case reports nothing
rather than a guess."""

from __future__ import annotations

from workbench.analysis.findings.rules.gil import gil_contention
from workbench.model.events import Frame, Span, StackSample
from workbench.model.recording import Recording
from workbench.model.run import Run

MS = 1_000_000


def test_two_threads_with_overlapping_python_stacks_are_not_reported_as_contention() -> None:
    # A consumer thread and a CPU-bound thread both show Python stacks for the same 500 ms: with py-spy's
    # chrometrace this is what GIL contention looks like, and also what a consumer in time.sleep looks like.
    rec = Recording()
    rec.add_span(Span(1, "cell", "cell", 0, 500 * MS))
    consumer = rec.intern_stack([Frame("read_stream", "app.py", 10)])
    spinner = rec.intern_stack([Frame("crunch", "app.py", 20)])
    for t in range(0, 500, 10):
        rec.add_sample(StackSample(t * MS, 1, consumer, 10 * MS))
        rec.add_sample(StackSample(t * MS, 2, spinner, 10 * MS))
    run = Run("r", "r", "", 500 * MS, 0.0, recording=rec, metrics={"wall_s": 0.5})
    assert gil_contention(run, None) == []
