"""The serving side, from a scraped server's metrics (`--server URL`) beside the client's requests.

- `server_queueing`: the server's waiting queue held requests while the client's TTFT rose. The server
  had no free slot, so the fix is on the server: more running slots or replicas. Told apart from
  `client_queueing` (communication.py), where the client held requests back and the server's queue
  stayed empty: this rule needs waiting requests on the server, that one requests waiting in the client.
- `kv_cache_pressure`: the KV cache ran nearly full, or requests were preempted (their KV blocks taken
  back and their prefill recomputed later).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from workbench.analysis.findings.model import Evidence, Finding, severity_of
from workbench.analysis.findings.registry import rule
from workbench.analysis.per_request import RequestMetrics, all_request_metrics
from workbench.analysis.server import server_series
from workbench.analysis.server_split import ttft_split
from workbench.analysis.stats import summarize
from workbench.model.run import Run

# One scrape with waiting requests may be a burst being admitted; two are a queue.
MIN_QUEUED_SCRAPES = 2
# Server queueing is worth a finding when it is at least this share of the TTFT the client saw.
MIN_QUEUE_SHARE = 0.2
# Without the server's own queue times: TTFT of requests that met a queue against those that did not.
MIN_TTFT_RISE = 1.5
KV_NEAR_FULL = 0.9
MAX_POINTERS = 8
Series = tuple[list[int], list[float]]


def _by_server(run: Run, name: str) -> dict[str, Series]:
    return {
        series.partition(".")[0]: points
        for series, points in server_series(run.recording).items()
        if series.partition(".")[2] == name
    }


def _raw(run: Run, series: str) -> str:
    about = ((run.metrics.get("server") or {}).get("series") or {}).get(series) or {}
    return str(about.get("raw") or series)


def _max_in(series: Series, start_ns: int, end_ns: int) -> float:
    """The largest value the step series held during [start_ns, end_ns]."""
    times, values = series
    first = max(0, bisect_right(times, start_ns) - 1)
    last = bisect_left(times, end_ns)
    window = values[first : last + 1]
    return max(window) if window else 0.0


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


@rule("server_queueing", "requests waited in the server's queue (no free running slot) and TTFT rose")
def server_queueing(run: Run, baseline: Run | None = None) -> list[Finding]:
    requests = [r for r in all_request_metrics(run.recording) if not r.failed and r.ttft_ms is not None]
    if not requests:
        return []
    found = []
    for server, waiting in _by_server(run, "requests_waiting").items():
        if sum(v > 0 for v in waiting[1]) < MIN_QUEUED_SCRAPES:
            continue
        finding = _server_finding(run, server, waiting, requests)
        if finding is not None:
            found.append(finding)
    return found


def _server_queue_ms(run: Run, requests: list[RequestMetrics]) -> dict[int, float]:
    """Each request's time in the server's queue, where the server reported it per request."""
    spans = {s.span_id: s for s in run.recording.spans if s.kind == "llm"}
    out = {}
    for r in requests:
        split, _ = ttft_split(spans[r.request_id], r)
        if split is not None and split["server_queue_ms"] is not None:
            out[r.request_id] = split["server_queue_ms"]
    return out


def _server_finding(run: Run, server: str, waiting: Series, requests: list[RequestMetrics]) -> Finding | None:
    ttft = [r.ttft_ms or 0.0 for r in requests]
    met_queue = [r for r in requests if _max_in(waiting, r.send_ns, r.first_token_ns or r.send_ns) > 0]
    queued = _server_queue_ms(run, requests)
    histogram = _by_server(run, "queue_time_mean_ms").get(server)
    if queued:
        share, how = _mean(list(queued.values())) / _mean(ttft), "the server's per-request queue times"
        gain = max(queued.values())
    elif histogram is not None:
        share, how = _mean(histogram[1]) / _mean(ttft), "the server's queue-time histogram"
        gain = max(_by_server(run, "queue_time_p90_ms").get(server, histogram)[1])
    else:
        others = [r.ttft_ms or 0.0 for r in requests if r not in met_queue]
        rise = _mean([r.ttft_ms or 0.0 for r in met_queue]) / _mean(others) if others and _mean(others) else 0
        share, how = (MIN_QUEUE_SHARE if rise >= MIN_TTFT_RISE else 0.0), "TTFT with and without a queue"
        gain = _mean([r.ttft_ms or 0.0 for r in met_queue]) - _mean(others) if others else 0.0
    if share < MIN_QUEUE_SHARE or not met_queue:
        return None
    return _queueing(run, server, waiting, requests, queued, share, how, gain)


def _queueing(
    run: Run,
    server: str,
    waiting: Series,
    requests: list[RequestMetrics],
    queued: dict[int, float],
    share: float,
    how: str,
    gain: float,
) -> Finding:
    running = _by_server(run, "requests_running").get(server)
    kv = _by_server(run, "kv_cache_usage").get(server)
    peak, slots = max(waiting[1]), max(running[1]) if running else None
    queued_at = [t for t, v in zip(*waiting, strict=True) if v > 0]
    worst = sorted(requests, key=lambda r: -queued.get(r.request_id, r.ttft_ms or 0.0))[:MAX_POINTERS]
    kv_note = f"; KV cache peaked at {max(kv[1]):.0%}" if kv else ""
    return Finding(
        kind="server_queueing",
        severity=severity_of(gain, run.wall_s * 1000),
        title=f"{server} queued up to {peak:.0f} requests with {slots or '?'} running: the queue was "
        f"{share:.0%} of the time to first token (from {how})",
        evidence={
            "server": server,
            "waiting_max": peak,
            "running_max": slots,
            "waiting_metric": _raw(run, f"{server}.requests_waiting"),
            "queued_from_ms": queued_at[0] / 1e6,
            "queued_until_ms": queued_at[-1] / 1e6,
            "ttft_ms": summarize([r.ttft_ms for r in requests if r.ttft_ms is not None]),
            "server_queue_ms": summarize(list(queued.values())) if queued else None,
            "queue_share_of_ttft": share,
            "kv_cache_usage_max": max(kv[1]) if kv else None,
        },
        pointers=[
            Evidence("time_range", f"{server} waiting > 0", queued_at[0] / 1e6, queued_at[-1] / 1e6),
            *(
                Evidence(
                    "request", r.name, r.send_ns / 1e6, (r.first_token_ns or r.send_ns) / 1e6, r.request_id
                )
                for r in worst
            ),
        ],
        suggestion=f"the server had no free slot{kv_note}: raise its running slots (vLLM --max-num-seqs, "
        "SGLang --max-running-requests, TGI --max-batch-size) where the KV cache has room, or add "
        "replicas behind a load balancer; sending fewer requests at once only moves the wait to the client",
        gain_ms=gain,
        assumption="enough running slots (and KV cache) for the concurrency: each request is scheduled "
        "when it arrives and its prefill and decode take as long as they did",
    )


@rule("kv_cache_pressure", "the server's KV cache ran nearly full, or it preempted requests")
def kv_cache_pressure(run: Run, baseline: Run | None = None) -> list[Finding]:
    found = []
    preemptions = _by_server(run, "preemptions")
    for server, (times, usage) in _by_server(run, "kv_cache_usage").items():
        preempted = max(preemptions.get(server, ([], [0.0]))[1] or [0.0])
        full = [t for t, v in zip(times, usage, strict=True) if v >= KV_NEAR_FULL]
        if not full and preempted <= 0:
            continue
        found.append(_pressure(run, server, times, usage, full, preempted))
    return found


def _pressure(
    run: Run, server: str, times: list[int], usage: list[float], full: list[int], preempted: float
) -> Finding:
    what = f"{preempted:.0f} preemption(s)" if preempted > 0 else "no preemption yet"
    pointers = (
        [Evidence("time_range", f"{server} KV cache ≥ 90%", full[0] / 1e6, full[-1] / 1e6)] if full else []
    )
    return Finding(
        kind="kv_cache_pressure",
        severity="high" if preempted > 0 else "medium",
        title=f"{server}'s KV cache peaked at {max(usage):.0%} with {what}",
        evidence={
            "server": server,
            "kv_cache_usage_max": max(usage),
            "scrapes_near_full": len(full),
            "scrapes": len(usage),
            "preemptions": preempted,
            "usage_metric": _raw(run, f"{server}.kv_cache_usage"),
            "preemptions_metric": _raw(run, f"{server}.preemptions") if preempted > 0 else None,
        },
        pointers=pointers,
        suggestion="give the KV cache more room (vLLM --gpu-memory-utilization, --kv-cache-dtype fp8, a "
        "shorter --max-model-len), run fewer sequences at once, or add replicas; preempted requests "
        "recompute their prefill, which shows as stalls in their token streams",
        gain_ms=0.0,
        assumption="not estimated: what a preemption costs depends on the prompt lengths recomputed",
    )
