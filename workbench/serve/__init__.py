"""A local OpenAI-compatible streaming server for demos and tests (`workbench serve`).

    from workbench.serve import start_server
    with start_server(ttft_ms=200, token_delay_ms=20) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x")

Endpoints: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health.
Backends: `synthetic` (exact, configurable timing and faults) and `model` (a tiny random-weight GPT-2
streamed token by token). Request headers for exact tests:
- `x-workbench-fail: 500` (any status 400-599) or `x-workbench-fail: drop` (streamed requests only);
- `x-workbench-ttft-ms`, `x-workbench-token-delay-ms`, `x-workbench-tokens-per-chunk` (synthetic only).
Importing this package loads neither fastapi nor torch: the server runs in its own process.
"""

from __future__ import annotations

from workbench.serve.process import ServerHandle, ServerStartError, start_server

__all__ = ["ServerHandle", "ServerStartError", "start_server"]
