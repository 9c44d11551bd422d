"""Converters from a `Run` to other tools' formats: Chrome Trace Event Format and speedscope."""

from workbench.export.chrome_trace import chrome_trace, write_chrome_trace
from workbench.export.speedscope import speedscope, write_speedscope

__all__ = ["chrome_trace", "speedscope", "write_chrome_trace", "write_speedscope"]
