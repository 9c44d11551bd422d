"""Converters from a `Run` to other tools' formats: Chrome Trace Event Format, speedscope, and OTLP
(OpenTelemetry spans and GenAI metrics, sent with `export_run`; the SDK is imported only when used)."""

from workbench.export.chrome_trace import chrome_trace, write_chrome_trace
from workbench.export.otel_endpoint import EndpointError, check_url
from workbench.export.otlp import OtlpExportError, OtlpResult, export_run
from workbench.export.speedscope import speedscope, write_speedscope

__all__ = [
    "EndpointError",
    "OtlpExportError",
    "OtlpResult",
    "check_url",
    "chrome_trace",
    "export_run",
    "speedscope",
    "write_chrome_trace",
    "write_speedscope",
]
