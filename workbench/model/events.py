"""The event kinds of a run. All times are nanoseconds on the run's clock (see `workbench.clock`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Span:
    """A stage of the pipeline, an LLM request or an operation; `end_ns` is None while open."""

    span_id: int
    name: str
    kind: str
    start_ns: int
    end_ns: int | None
    parent_id: int | None = None
    thread_id: int = 0
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_ns(self) -> int:
        return 0 if self.end_ns is None else self.end_ns - self.start_ns


@dataclass(slots=True, frozen=True)
class TokenEvent:
    """`n_tokens` tokens of request `request_id` (an `llm` span's id) arrived at `t_ns`."""

    request_id: int
    t_ns: int
    n_tokens: int
    text: str | None = None


@dataclass(slots=True, frozen=True)
class Counter:
    series: str
    t_ns: int
    value: float


@dataclass(slots=True, frozen=True)
class Frame:
    function: str
    file: str
    line: int


@dataclass(slots=True, frozen=True)
class StackSample:
    """What one thread was running from `t_ns` for `duration_ns`, observed by `count` samples.

    `stack_id` indexes the run's stack table (root first). py-spy reports a thread's stack only when it
    changes, so one sample here can stand for several consecutive ticks with the same stack.
    """

    t_ns: int
    thread_id: int
    stack_id: int
    duration_ns: int
    count: int = 1


@dataclass(slots=True, frozen=True)
class Annotation:
    """A user's note: at `t_ns` (to `end_ns` for a range) on the run clock, or on the whole run when
    `t_ns` is None; `created` is an ISO wall-clock time (empty in runs saved before notes had one)."""

    t_ns: int | None
    text: str
    author: str = ""
    end_ns: int | None = None
    created: str = ""


@dataclass(slots=True, frozen=True)
class CollectorStatus:
    """Whether a collector ran; `reason` says why not, or how it ran (e.g. a fallback)."""

    name: str
    started: bool
    reason: str = ""
