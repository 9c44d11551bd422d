"""How many LLM requests were in flight over time: a step series and its maximum and time-weighted mean."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from itertools import pairwise

from workbench.model.events import Span
from workbench.model.recording import Recording


def requests_in_flight(recording: Recording) -> list[tuple[int, int]]:
    """(t_ns, requests in flight from t_ns on) at each time the count changes; ends with a 0.

    A request is in flight from its span's start to its end. A span still open counts until the last
    time the recording saw anything, since it was running at least until then.
    """
    spans = [s for s in recording.spans if s.kind == "llm"]
    return in_flight_series(spans, last_seen_ns(recording))


def requests_on_the_wire(recording: Recording) -> list[tuple[int, int]]:
    """Like `requests_in_flight`, but from the moment each request was sent (`send_ns`): a client that
    holds requests back (a connection pool, a semaphore inside the SDK call) shows here as a lower line."""
    spans = [s for s in recording.spans if s.kind == "llm"]
    return in_flight_series(spans, last_seen_ns(recording), from_send=True)


def send_time_ns(span: Span) -> int:
    send = span.attrs.get("send_ns")
    return int(send) if isinstance(send, int | float) else span.start_ns


def in_flight_series(
    spans: Iterable[Span], open_end_ns: int | None = None, from_send: bool = False
) -> list[tuple[int, int]]:
    """`requests_in_flight` over `spans`; an open span ends at `open_end_ns`, or is left out without one.
    With `from_send`, each request counts from its send time rather than from the client's call."""
    change: dict[int, int] = defaultdict(int)
    for span in spans:
        start = send_time_ns(span) if from_send else span.start_ns
        end = span.end_ns if span.end_ns is not None else open_end_ns
        # A zero-length span was never in flight over any interval; skipping it keeps counts from dipping.
        if end is None or end <= start:
            continue
        change[start] += 1
        change[end] -= 1
    series: list[tuple[int, int]] = []
    count = 0
    for t in sorted(change):
        # Netting changes at one instant: a request starting as another ends does not make two.
        if change[t]:
            count += change[t]
            series.append((t, count))
    return series


def in_flight_summary(series: list[tuple[int, int]]) -> dict[str, float | int | None]:
    """max_in_flight, and mean_in_flight weighted by time from the first start to the last end."""
    if not series:
        return {"max_in_flight": 0, "mean_in_flight": None}
    window = series[-1][0] - series[0][0]
    area = sum(count * (t_next - t) for (t, count), (t_next, _) in pairwise(series))
    return {
        "max_in_flight": max(count for _, count in series),
        "mean_in_flight": area / window if window > 0 else None,
    }


def concurrency_summary(spans: Sequence[Span], open_end_ns: int | None) -> dict[str, float | int | None]:
    """max/mean in flight (from the client's call) and on the wire (from the send)."""
    in_flight = in_flight_summary(in_flight_series(spans, open_end_ns))
    on_wire = in_flight_summary(in_flight_series(spans, open_end_ns, from_send=True))
    return {
        **in_flight,
        "max_on_the_wire": on_wire["max_in_flight"],
        "mean_on_the_wire": on_wire["mean_in_flight"],
    }


def last_seen_ns(recording: Recording) -> int | None:
    """The latest time anything in the recording happened; None for an empty recording."""
    times = [s.end_ns for s in recording.spans if s.end_ns is not None]
    times += [s.start_ns for s in recording.spans]
    times += [t.t_ns for t in recording.tokens]
    return max(times) if times else None
