"""The process's one global OpenTelemetry SDK TracerProvider for the "OTel in" tests (the API allows one
per process), with an in-memory exporter the tests read; and a `workbench serve` for them to call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.serve import ServerHandle, start_server

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

_exporter: InMemorySpanExporter | None = None


def global_sdk_provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    """The global SDK provider (set here if no test set one), with an in-memory exporter on it."""
    global _exporter
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        trace.set_tracer_provider(TracerProvider())
        provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    if _exporter is None:
        _exporter = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(_exporter))
    return provider, _exporter


def serve(spans_file: Path | None = None) -> Iterator[ServerHandle]:
    with start_server(ttft_ms=20, token_delay_ms=2, output_tokens=4, seed=1, otlp_spans=spans_file) as server:
        yield server
    assert not server.running
