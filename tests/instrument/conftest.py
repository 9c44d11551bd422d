"""The local OTLP/HTTP receiver of the export tests, for the trace-context tests."""

from ..export.test_otlp import receiver

__all__ = ["receiver"]
