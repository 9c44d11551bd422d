"""How many LLM requests were in flight over time: a step series and its maximum and time-weighted mean."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
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


def in_flight_series(spans: Iterable[Span], open_end_ns: int | None = None) -> list[tuple[int, int]]:
    """`requests_in_flight` over `spans`; an open span ends at `open_end_ns`, or is left out without one."""
    change: dict[int, int] = defaultdict(int)
    for span in spans:
        end = span.end_ns if span.end_ns is not None else open_end_ns
        # A zero-length span was never in flight over any interval; skipping it keeps counts from dipping.
        if end is None or end <= span.start_ns:
            continue
        change[span.start_ns] += 1
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


def last_seen_ns(recording: Recording) -> int | None:
    """The latest time anything in the recording happened; None for an empty recording."""
    times = [s.end_ns for s in recording.spans if s.end_ns is not None]
    times += [s.start_ns for s in recording.spans]
    times += [t.t_ns for t in recording.tokens]
    return max(times) if times else None
