"""Auto-instrumentation: library patches that record LLM requests while a profile is active."""

from __future__ import annotations

from typing import Protocol

from workbench.instrument.httpx_hook import HttpxHook
from workbench.instrument.openai_hook import OpenAIHook
from workbench.instrument.transformers_hook import TransformersHook


class Hook(Protocol):
    """Patches a library between `install()` and `uninstall()`; only libraries already imported."""

    name: str

    def is_available(self) -> tuple[bool, str]: ...

    def install(self) -> None: ...

    def uninstall(self) -> None: ...


def default_hooks() -> list[Hook]:
    """Every hook, in the order they wrap: the SDK hook relies on the HTTP hooks beneath it."""
    return [TransformersHook(), HttpxHook("httpx"), HttpxHook("httpx2"), OpenAIHook()]


__all__ = ["Hook", "HttpxHook", "OpenAIHook", "TransformersHook", "default_hooks"]
