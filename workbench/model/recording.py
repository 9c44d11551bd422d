"""The events one run recorded, with interned frames and stacks and bounded growth."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workbench.model.events import Counter, Frame, Span, StackSample, TokenEvent
from workbench.model.ops import OpTable

if TYPE_CHECKING:
    from workbench.model.attached import AttachedProcess

# Bounds that keep an hour-long cell's memory flat; past them events are merged or counted as dropped.
MAX_SPANS = 200_000
MAX_TOKEN_EVENTS = 1_000_000
MAX_SAMPLES = 1_000_000
MAX_COUNTER_POINTS = 500_000


@dataclass
class Recording:
    spans: list[Span] = field(default_factory=list)
    tokens: list[TokenEvent] = field(default_factory=list)
    counters: list[Counter] = field(default_factory=list)
    samples: list[StackSample] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    stacks: list[tuple[int, ...]] = field(default_factory=list)
    threads: dict[int, str] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    # torch.profiler's ops and GPU work, in columns (see `workbench.model.ops`); None when not traced.
    ops: OpTable | None = field(default=None, compare=False)
    # Other local processes sampled with py-spy (`--attach PID`), each with its own samples and frames.
    attached: list[AttachedProcess] = field(default_factory=list)
    _frame_ids: dict[Frame, int] = field(default_factory=dict, repr=False, compare=False)
    _stack_ids: dict[tuple[int, ...], int] = field(default_factory=dict, repr=False, compare=False)
    _last_token_index: dict[int, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._frame_ids = {frame: i for i, frame in enumerate(self.frames)}
        self._stack_ids = {stack: i for i, stack in enumerate(self.stacks)}

    def _drop(self, kind: str) -> None:
        self.dropped[kind] = self.dropped.get(kind, 0) + 1

    def add_span(self, span: Span) -> bool:
        if len(self.spans) >= MAX_SPANS:
            self._drop("spans")
            return False
        self.spans.append(span)
        return True

    def add_token(self, event: TokenEvent) -> None:
        last = self._last_token_index.get(event.request_id)
        if len(self.tokens) >= MAX_TOKEN_EVENTS and last is not None:
            # Keep the count exact and lose only time resolution: fold into the request's last arrival.
            previous = self.tokens[last]
            self.tokens[last] = TokenEvent(
                previous.request_id, event.t_ns, previous.n_tokens + event.n_tokens
            )
            self._drop("token_events_merged")
            return
        self._last_token_index[event.request_id] = len(self.tokens)
        self.tokens.append(event)

    def add_counter(self, point: Counter) -> None:
        if len(self.counters) >= MAX_COUNTER_POINTS:
            self._drop("counters")
            return
        self.counters.append(point)

    def add_sample(self, sample: StackSample) -> None:
        if len(self.samples) >= MAX_SAMPLES:
            self._drop("samples")
            return
        self.samples.append(sample)

    def intern_stack(self, frames: Sequence[Frame]) -> int:
        """The stack id of `frames` (root first), adding it to the tables when new."""
        ids = []
        for frame in frames:
            frame_id = self._frame_ids.get(frame)
            if frame_id is None:
                frame_id = self._frame_ids[frame] = len(self.frames)
                self.frames.append(frame)
            ids.append(frame_id)
        key = tuple(ids)
        stack_id = self._stack_ids.get(key)
        if stack_id is None:
            stack_id = self._stack_ids[key] = len(self.stacks)
            self.stacks.append(key)
        return stack_id

    def stack_frames(self, stack_id: int) -> list[Frame]:
        return [self.frames[i] for i in self.stacks[stack_id]]

    def thread_name(self, thread_id: int) -> str:
        return self.threads.get(thread_id, f"thread {thread_id}")
