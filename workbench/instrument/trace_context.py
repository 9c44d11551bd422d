"""W3C trace context on the LLM requests the workbench captures.

Each captured request carries a `traceparent` header naming the OpenTelemetry span the OTLP export will
give its `llm` span: the run's trace id and the span's own id, both pure functions of the run id and the
span's id (`workbench.export.otel_ids`), so they are known while the run records. A server that joins the
trace (vLLM with `--otlp-traces-endpoint`, `workbench serve --otlp-spans FILE`) then parents its spans on
the client's request span. A `traceparent` the caller set already (their own tracing) is kept, and the
span says so (`traceparent_kept`). `--no-propagate` sends nothing.
"""

from __future__ import annotations

from typing import Any

from workbench.export.otel_ids import traceparent
from workbench.instrument.llm_call import LlmCall

HEADER = "traceparent"


def propagate(call: LlmCall, request: Any) -> None:
    """Put the call's `traceparent` on an httpx request about to be sent (every attempt of a retried call
    names the same span), unless the caller's own header is there."""
    recorder = call.recorder
    if not recorder.propagate:
        return
    ours = traceparent(recorder.run_id, call.reserve_span_id())
    existing = request.headers.get(HEADER)
    if existing is not None and existing != ours:
        call.attrs["traceparent_kept"] = existing[:100]
        call.attrs.pop("traceparent", None)
        return
    request.headers[HEADER] = ours
    call.attrs["traceparent"] = ours
