"""Record every `transformers` `generate()` call as an `llm` span with its token arrivals.

Each decoding step hands the streamer the step's new tokens (B of them for a batch of B) at one
instant; the first such call after the prompt gives TTFT. A user's own `streamer=` keeps working.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from workbench.active import active
from workbench.api import llm_request


class _TokenStreamer:
    """A transformers streamer (put/end) that records arrivals and forwards to the user's streamer."""

    def __init__(self, request: llm_request, user_streamer: Any | None) -> None:
        self.request = request
        self.user_streamer = user_streamer
        self._saw_prompt = False
        self.tokens = 0

    def put(self, value: Any) -> None:
        if self._saw_prompt:
            n = int(value.shape[0]) if getattr(value, "ndim", 1) >= 1 else 1
            self.tokens += n
            self.request.chunk(n)
        else:
            # generate() first passes the prompt ids to the streamer.
            self._saw_prompt = True
        if self.user_streamer is not None:
            self.user_streamer.put(value)

    def end(self) -> None:
        if self.user_streamer is not None:
            self.user_streamer.end()


def _model_name(model: Any) -> str:
    config = getattr(model, "config", None)
    name = getattr(config, "_name_or_path", "") or ""
    return str(name) or type(model).__name__


def _input_shape(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[int, int] | None:
    ids = kwargs.get("input_ids", args[0] if args else None)
    shape = getattr(ids, "shape", None)
    if shape is None or len(shape) != 2:
        return None
    return int(shape[0]), int(shape[1])


def _uses_beams(model: Any, kwargs: dict[str, Any]) -> bool:
    config = kwargs.get("generation_config") or getattr(model, "generation_config", None)
    beams = kwargs.get("num_beams", getattr(config, "num_beams", 1))
    return bool(beams and beams > 1)


def _wrap(original: Callable[..., Any]) -> Callable[..., Any]:
    def generate(self: Any, *args: Any, **kwargs: Any) -> Any:
        if active() is None:
            return original(self, *args, **kwargs)
        shape = _input_shape(args, kwargs)
        attrs: dict[str, Any] = {"source": "transformers.generate"}
        if shape is not None:
            attrs["batch_size"], attrs["prompt_tokens_per_sequence"] = shape
        if "max_new_tokens" in kwargs:
            attrs["max_new_tokens"] = kwargs["max_new_tokens"]
        name = _model_name(self)
        input_tokens = shape[0] * shape[1] if shape else None
        with llm_request(model=name, input_tokens=input_tokens, name=f"generate {name}", **attrs) as request:
            if _uses_beams(self, kwargs):
                # Streamers are refused with beam search: record the span and the final count only.
                output = original(self, *args, **kwargs)
                if shape is not None and getattr(output, "shape", None) is not None:
                    request.usage(output_tokens=int(output.shape[0]) * (int(output.shape[1]) - shape[1]))
                return output
            kwargs["streamer"] = _TokenStreamer(request, kwargs.get("streamer"))
            return original(self, *args, **kwargs)

    generate.__wrapped__ = original  # type: ignore[attr-defined]
    generate.__doc__ = original.__doc__
    return generate


class TransformersHook:
    """Patches `GenerationMixin.generate` between `install()` and `uninstall()`."""

    name = "transformers"

    def __init__(self) -> None:
        self._owner: Any | None = None
        self._original: Callable[..., Any] | None = None

    def is_available(self) -> tuple[bool, str]:
        if "transformers" not in sys.modules:
            return False, "transformers is not imported"
        return True, ""

    def install(self) -> None:
        from transformers.generation.utils import GenerationMixin

        self._owner = GenerationMixin
        self._original = GenerationMixin.generate
        GenerationMixin.generate = _wrap(self._original)  # type: ignore[method-assign]

    def uninstall(self) -> None:
        if self._owner is not None and self._original is not None:
            self._owner.generate = self._original
        self._owner = None
        self._original = None
