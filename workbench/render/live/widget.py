"""A `jupyter_bokeh` widget that sends all the document changes of one update as one message.

`BokehModel` sends every document event on its own, as three comm messages (plus two per binary buffer);
Jupyter drops iopub messages beyond about 1000/s. Inside `batch()` the events are collected and go out
as one PATCH-DOC, so a live tick costs three messages whatever it changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bokeh.protocol import Protocol
from jupyter_bokeh import BokehModel


class BatchedBokehModel(BokehModel):  # type: ignore[misc]
    def __init__(self, model: Any, **kwargs: Any) -> None:
        self._pending: list[Any] | None = None
        self.messages_sent = 0
        self._closed = False
        super().__init__(model, **kwargs)

    def close(self) -> None:
        # Once only: `BokehModel.close` removes itself from the document's listeners and raises KeyError
        # the second time, and ipywidgets closes every widget again in `__del__`. That second close ran
        # whenever the garbage collector freed an old live view, printing "Exception ignored in:
        # Widget.__del__ ... KeyError" into whatever cell ran then.
        if self._closed:
            return
        self._closed = True
        super().close()

    def __repr__(self) -> str:
        # The text a frontend without widget support shows until the final output replaces it.
        return "Live dashboard (shown where widgets render; the final dashboard replaces it at the end)"

    @contextmanager
    def batch(self) -> Iterator[None]:
        self._pending = []
        try:
            yield
        finally:
            events, self._pending = self._pending, None
            if events:
                self._send_patch(events)

    def _document_patched(self, event: Any) -> None:
        if event.setter is self:
            return  # the change came from the browser
        if self._pending is not None:
            self._pending.append(event)
        else:
            self._send_patch([event])

    def _send_patch(self, events: list[Any]) -> None:
        # The same framing as BokehModel._document_patched, with several events in one message.
        msg = Protocol().create("PATCH-DOC", events)
        parts: list[tuple[dict[str, Any], list[bytes] | None]] = [
            ({"msg": "patch", "payload": msg.header_json}, None),
            ({"msg": "patch", "payload": msg.metadata_json}, None),
            ({"msg": "patch", "payload": msg.content_json}, None),
        ]
        for buffer in msg.buffers:
            parts.append(({"msg": "patch", "payload": json.dumps(buffer.ref)}, None))
            parts.append(({"msg": "patch"}, [buffer.to_bytes()]))
        for content, buffers in parts:
            self.send(content, buffers)
        self.messages_sent += len(parts)
