"""A real Jupyter kernel for tests: execute code, collect outputs, interrupt, shut down."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.manager import KernelManager


@dataclass
class Execution:
    """`outputs` as a frontend ends up showing them: an update_display_data replaces the data of the earlier
    output with its display id (`updates` counts them)."""

    reply: dict[str, Any]
    outputs: list[dict[str, Any]] = field(default_factory=list)
    updates: int = 0

    @property
    def status(self) -> str:
        return str(self.reply["content"]["status"])

    def text(self, stream: str | None = None) -> str:
        """stdout/stderr text plus text/plain of results and displays (one stream if given)."""
        parts = []
        for out in self.outputs:
            kind = out["msg_type"]
            content = out["content"]
            if kind == "stream" and (stream is None or content["name"] == stream):
                parts.append(content["text"])
            elif kind in ("execute_result", "display_data") and stream is None:
                parts.append(content["data"].get("text/plain", ""))
            elif kind == "error" and stream is None:
                parts.append("\n".join(content["traceback"]))
        return "".join(parts)

    def of_type(self, msg_type: str) -> list[dict[str, Any]]:
        return [o["content"] for o in self.outputs if o["msg_type"] == msg_type]


def _display_id(content: dict[str, Any]) -> str | None:
    return (content.get("transient") or {}).get("display_id")


def _update_display(outputs: list[dict[str, Any]], update: dict[str, Any]) -> None:
    for out in outputs:
        if out["msg_type"] == "display_data" and _display_id(out["content"]) == _display_id(update):
            out["content"] = {**out["content"], "data": update["data"], "metadata": update["metadata"]}


class Kernel:
    def __init__(self, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.manager = KernelManager(kernel_name="python3")
        full_env = {**os.environ, **(env or {})}
        self.manager.start_kernel(cwd=str(cwd), env=full_env)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    @property
    def pid(self) -> int:
        provisioner = self.manager.provisioner
        assert provisioner is not None
        return int(provisioner.process.pid)  # type: ignore[attr-defined]

    def execute(self, code: str, timeout: float = 120, interrupt_after: float | None = None) -> Execution:
        outputs: list[dict[str, Any]] = []
        updates = 0

        def hook(msg: dict[str, Any]) -> None:
            nonlocal updates
            if msg["msg_type"] in ("stream", "execute_result", "display_data", "error"):
                outputs.append(msg)
            elif msg["msg_type"] == "update_display_data":
                updates += 1
                _update_display(outputs, msg["content"])

        timer = None
        if interrupt_after is not None:
            timer = threading.Timer(interrupt_after, self.manager.interrupt_kernel)
            timer.start()
        try:
            reply = self.client.execute_interactive(code, output_hook=hook, timeout=timeout)
        finally:
            if timer is not None:
                timer.cancel()
        return Execution(reply, outputs, updates)

    def shutdown(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@contextmanager
def workbench_kernel(cwd: Path, store: Path, env: dict[str, str] | None = None) -> Iterator[Kernel]:
    """A kernel with the workbench extension loaded, saving runs under `store`; shut down afterwards."""
    kernel = Kernel(cwd=cwd, env={"WORKBENCH_STORE": str(store), **(env or {})})
    try:
        setup = kernel.execute("%load_ext workbench")
        assert setup.status == "ok", setup.text()
        yield kernel
    finally:
        kernel.shutdown()
