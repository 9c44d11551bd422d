"""`workbench serve --otlp-spans FILE`: one OpenTelemetry span per request, as vLLM exports them, written
in the OTLP JSON encoding (one `ExportTraceServiceRequest` per line, as the Collector's file exporter
writes), so the client's `--server-spans FILE` can join them and a test can read what the server received.

The request's W3C `traceparent` (when valid) makes the span a child of the client's span in the client's
trace; the header itself is kept as `fm_workbench.serve.traceparent`. vLLM's `llm_request` span carries
the `gen_ai.latency.*` attributes; here it also has `queue`, `prefill` and `decode` children.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path
from typing import Any

from workbench.serve.scheduler import Ticket

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")
SERVER, INTERNAL = 2, 1


def parse_traceparent(header: str | None) -> tuple[str, str] | None:
    """(trace id, parent span id) in hex from a version-00 `traceparent`, or None when it is not one."""
    match = TRACEPARENT.match((header or "").strip().lower())
    if match is None or set(match.group(1)) == {"0"} or set(match.group(2)) == {"0"}:
        return None
    return match.group(1), match.group(2)


def _attribute(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        wrapped: dict[str, Any] = {"boolValue": value}
    elif isinstance(value, int):
        wrapped = {"intValue": str(value)}
    elif isinstance(value, float):
        wrapped = {"doubleValue": value}
    else:
        wrapped = {"stringValue": str(value)}
    return {"key": key, "value": wrapped}


class SpanLog:
    def __init__(self, path: Path, model: str) -> None:
        self.path = path
        self.model = model
        # loop.time() is time.monotonic(): this offset puts it on the wall clock, in ns.
        self._offset_ns = time.time_ns() - time.monotonic_ns()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()

    def _unix_ns(self, loop_time: float) -> int:
        return round(loop_time * 1e9) + self._offset_ns

    def record(self, headers: Any, ticket: Ticket, max_tokens: int, end: float) -> None:
        """Append the request's spans; `end` is the loop time it finished (or was abandoned)."""
        header = headers.get("traceparent")
        parsed = parse_traceparent(header)
        trace_id, parent = parsed if parsed is not None else (secrets.token_hex(16), "")
        root_id = secrets.token_hex(8)
        scheduled = ticket.scheduled if ticket.scheduled is not None else end
        first = ticket.first_token if ticket.first_token is not None else end
        last = ticket.last_token if ticket.last_token is not None else end
        attributes = {
            "gen_ai.response.model": self.model,
            "gen_ai.request.max_tokens": max_tokens,
            "gen_ai.usage.prompt_tokens": ticket.prompt_tokens,
            "gen_ai.usage.completion_tokens": ticket.generated,
            "gen_ai.latency.time_in_queue": scheduled - ticket.arrival,
            "gen_ai.latency.time_to_first_token": first - ticket.arrival,
            "gen_ai.latency.e2e": end - ticket.arrival,
            "gen_ai.latency.time_in_model_prefill": first - scheduled,
            "gen_ai.latency.time_in_model_decode": last - first,
        }
        if header is not None:
            attributes["fm_workbench.serve.traceparent"] = header[:200]
        spans = [
            self._span(trace_id, root_id, parent, "llm_request", SERVER, ticket.arrival, end, attributes)
        ]
        for name, start, stop in (("queue", ticket.arrival, scheduled), ("prefill", scheduled, first)):
            spans.append(self._span(trace_id, secrets.token_hex(8), root_id, name, INTERNAL, start, stop, {}))
        spans.append(self._span(trace_id, secrets.token_hex(8), root_id, "decode", INTERNAL, first, last, {}))
        document = {
            "resourceSpans": [
                {
                    "resource": {"attributes": [_attribute("service.name", "workbench-serve")]},
                    "scopeSpans": [{"scope": {"name": "workbench.serve"}, "spans": spans}],
                }
            ]
        }
        with self.path.open("a") as out:
            out.write(json.dumps(document, separators=(",", ":")) + "\n")

    def _span(
        self,
        trace_id: str,
        span_id: str,
        parent: str,
        name: str,
        kind: int,
        start: float,
        end: float,
        attributes: dict[str, Any],
    ) -> dict[str, Any]:
        return {
            "traceId": trace_id,
            "spanId": span_id,
            "parentSpanId": parent,
            "name": name,
            "kind": kind,
            "startTimeUnixNano": str(self._unix_ns(start)),
            "endTimeUnixNano": str(self._unix_ns(max(end, start))),
            "attributes": [_attribute(k, v) for k, v in attributes.items()],
            "status": {},
        }
