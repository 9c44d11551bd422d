"""Token accounting: the server's output-token count and the count seen on the stream disagree.

Then TPOT and inter-token latency are computed from a wrong N (benchmark clients that re-tokenise with
the wrong tokenizer report them 2-3x off without noticing), so the finding points at the requests.
"""

from __future__ import annotations

from workbench.analysis.findings.model import Evidence, Finding
from workbench.analysis.findings.registry import rule
from workbench.analysis.per_request import all_request_metrics
from workbench.model.run import Run

# One request in ten off by more than a tenth is a pattern, not a rounding of the last chunk.
MIN_RELATIVE_ERROR = 0.10
MAX_POINTERS = 5


@rule("token_accounting", "server-reported and counted output tokens disagree")
def token_accounting(run: Run, baseline: Run | None = None) -> list[Finding]:
    off = [
        r
        for r in all_request_metrics(run.recording)
        if r.count_mismatch
        and r.server_tokens
        and abs(r.server_tokens - r.client_tokens) / r.server_tokens > MIN_RELATIVE_ERROR
    ]
    if not off:
        return []
    worst = max(off, key=lambda r: abs((r.server_tokens or 0) - r.client_tokens))
    pointers = [
        Evidence("request", r.name, r.send_ns / 1e6, (r.last_token_ns or r.send_ns) / 1e6, r.request_id)
        for r in off[:MAX_POINTERS]
    ]
    return [
        Finding(
            kind="token_accounting",
            severity="medium",
            title=f"{len(off)} request(s) where the server's token count and the stream's disagree",
            evidence={
                "requests": len(off),
                "worst_server_tokens": worst.server_tokens,
                "worst_counted_tokens": worst.client_tokens,
            },
            pointers=pointers,
            suggestion="check which tokenizer counts the stream (or enable the server's usage stats, e.g. "
            "vLLM's continuous_usage_stats): TPOT and inter-token latency use this count",
            gain_ms=0.0,
            assumption="no time to gain: the metrics computed from the wrong count are what is wrong",
        )
    ]
