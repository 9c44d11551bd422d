"""Plain typed data: the events of a run and the `Run` that holds them."""

from workbench.model.events import Annotation, CollectorStatus, Counter, Frame, Span, StackSample, TokenEvent
from workbench.model.recording import Recording
from workbench.model.run import Run

__all__ = [
    "Annotation",
    "CollectorStatus",
    "Counter",
    "Frame",
    "Recording",
    "Run",
    "Span",
    "StackSample",
    "TokenEvent",
]
