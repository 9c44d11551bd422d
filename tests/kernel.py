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
    reply: dict[str, Any]
    outputs: list[dict[str, Any]] = field(default_factory=list)

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

        def hook(msg: dict[str, Any]) -> None:
            if msg["msg_type"] in ("stream", "execute_result", "display_data", "error"):
                outputs.append(msg)

        timer = None
        if interrupt_after is not None:
            timer = threading.Timer(interrupt_after, self.manager.interrupt_kernel)
            timer.start()
        try:
            reply = self.client.execute_interactive(code, output_hook=hook, timeout=timeout)
        finally:
            if timer is not None:
                timer.cancel()
        return Execution(reply, outputs)

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
