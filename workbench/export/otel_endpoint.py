"""Where an OTLP/HTTP export goes: a base URL checked once, with `/v1/traces` and `/v1/metrics` appended
as the OTLP exporters do with `OTEL_EXPORTER_OTLP_ENDPOINT`.

A URL given by the user wins; else the standard environment variables are read (the per-signal ones,
used as they are, before the base one); else the OTLP default, http://localhost:4318.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
TRACES_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
METRICS_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
DEFAULT_ENDPOINT = "http://localhost:4318"
TRACES_PATH = "/v1/traces"
METRICS_PATH = "/v1/metrics"
MAX_URL_CHARS = 2048


class EndpointError(ValueError):
    """An endpoint that is not an http(s) URL; the message is one line and names where it came from."""


@dataclass(frozen=True)
class Endpoints:
    traces: str
    metrics: str

    def __str__(self) -> str:
        base = self.traces.removesuffix(TRACES_PATH)
        if self.metrics == base + METRICS_PATH:
            return f"{base} ({TRACES_PATH}, {METRICS_PATH})"
        return f"{self.traces} and {self.metrics}"


def check_url(text: str, source: str = "the endpoint") -> str:
    """`text` as an http(s) URL without a trailing slash; `EndpointError` saying what is wrong if not."""
    shown = repr(text if len(text) <= 80 else text[:77] + "...")
    if not text.strip():
        raise EndpointError(f"{source} is empty; expected a URL such as {DEFAULT_ENDPOINT}")
    if len(text) > MAX_URL_CHARS or any(ch.isspace() or not ch.isprintable() for ch in text):
        raise EndpointError(f"{source} {shown} is not a URL (spaces, control characters or too long)")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise EndpointError(f"{source} {shown} is not a valid URL ({error})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise EndpointError(f"{source} {shown} must start with http:// or https:// (e.g. {DEFAULT_ENDPOINT})")
    if not parts.hostname:
        raise EndpointError(f"{source} {shown} names no host (e.g. {DEFAULT_ENDPOINT})")
    if port == 0:
        raise EndpointError(f"{source} {shown} has port 0")
    if parts.query or parts.fragment:
        raise EndpointError(f"{source} {shown} must not have a query or a fragment")
    return text.rstrip("/")


def resolve(url: str | None = None, environ: Mapping[str, str] | None = None) -> Endpoints:
    """The traces and metrics URLs for `url` (a base URL), or from the environment when it is None."""
    env = os.environ if environ is None else environ
    if url is not None:
        base = check_url(url)
        return Endpoints(base + TRACES_PATH, base + METRICS_PATH)
    base_text = env.get(ENDPOINT_ENV) or ""
    base = check_url(base_text, ENDPOINT_ENV) if base_text else DEFAULT_ENDPOINT
    traces = env.get(TRACES_ENDPOINT_ENV) or ""
    metrics = env.get(METRICS_ENDPOINT_ENV) or ""
    return Endpoints(
        check_url(traces, TRACES_ENDPOINT_ENV) if traces else base + TRACES_PATH,
        check_url(metrics, METRICS_ENDPOINT_ENV) if metrics else base + METRICS_PATH,
    )
