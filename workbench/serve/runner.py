"""Runs the server in the foreground: bind 127.0.0.1, print one ready line, stop on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
import sys
from typing import TextIO

import prometheus_client
import uvicorn

from workbench.serve.app import create_app
from workbench.serve.backend import Backend
from workbench.serve.config import ServeConfig, check_loopback
from workbench.serve.faults import DroppedOnPurpose
from workbench.serve.synthetic import SyntheticBackend

GRACEFUL_SHUTDOWN_S = 1


def ready_line(backend: str, port: int) -> str:
    return f"serving {backend} on http://127.0.0.1:{port}/v1"


def build_backend(config: ServeConfig) -> Backend:
    if config.backend == "model":
        from workbench.serve.model_backend import ModelBackend  # torch loads only for this backend

        return ModelBackend.load(config.model_dir, config.seed)
    return SyntheticBackend(config.timing)


def bind(host: str, port: int) -> socket.socket:
    address = check_loopback(host)
    # proto=IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY on accepted connections only when
    # the socket says it is TCP. Without it Nagle holds each small SSE event back until the client
    # ACKs the previous one, and a delayed ACK costs ~40 ms on a kept-alive connection.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address, port))
    except OSError as error:
        sock.close()
        raise OSError(error.errno, f"cannot listen on {address}:{port}: {error.strerror}") from None
    return sock


def serve(config: ServeConfig, *, parent_pid: int | None = None, out: TextIO | None = None) -> None:
    """Serve until interrupted; with `parent_pid`, also stop when that process is gone."""
    # As vLLM does: no `<name>_created` series next to each counter and histogram in /metrics.
    prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
    sock = bind(config.host, config.port)  # before the (slow) model load: a busy port fails at once
    backend = build_backend(config)
    app = create_app(
        backend,
        output_tokens=config.output_tokens,
        faults=config.faults,
        seed=config.seed,
        scheduling=config.scheduling,
    )
    settings = uvicorn.Config(
        app,
        http="h11",
        ws="none",
        lifespan="off",
        log_level="warning",
        access_log=False,  # nobody may have to drain the server's stdout (start_server stops reading it)
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    logging.getLogger("uvicorn.error").addFilter(_hide_planned_drops)
    server = uvicorn.Server(settings)
    # Everything loaded so far lives as long as the server: keeping it out of the collector's view
    # keeps full collections (tens of ms with torch loaded) from delaying a chunk past its deadline.
    gc.collect()
    gc.freeze()
    line = ready_line(config.backend, sock.getsockname()[1])
    # uvicorn re-raises the SIGINT it shut down for; the shutdown was clean, so no traceback.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(server, sock, line, parent_pid, out or sys.stdout))


async def _run(
    server: uvicorn.Server, sock: socket.socket, line: str, parent_pid: int | None, out: TextIO
) -> None:
    serving = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started and not serving.done():
        await asyncio.sleep(0.005)
    if server.started:
        print(line, file=out, flush=True)
    watchdog = asyncio.ensure_future(_exit_with_parent(server, parent_pid)) if parent_pid else None
    try:
        await serving
    finally:
        if watchdog is not None:
            watchdog.cancel()


async def _exit_with_parent(server: uvicorn.Server, parent_pid: int) -> None:
    # A parent killed with SIGKILL cannot stop us; being re-parented is the sign that it is gone.
    while not server.should_exit:
        if os.getppid() != parent_pid:
            server.should_exit = True
        await asyncio.sleep(0.2)


def _hide_planned_drops(record: logging.LogRecord) -> bool:
    """uvicorn logs any exception that ends a response; a drop we injected is not an error."""
    error = record.exc_info[1] if record.exc_info else None
    return not isinstance(error, DroppedOnPurpose)
