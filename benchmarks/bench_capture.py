"""How close the request capture's timings come to the synthetic server's exact schedule.

The server sends the first content chunk TTFT after a request arrives and every later token DELAY after the
one before (absolute deadlines), so for N tokens E2E = TTFT + (N - 1) x DELAY and TPOT = DELAY. Requests
run under `wb.profile(cpu=False)` one at a time (the openai SDK, streamed) and `--concurrent` at once
(`AsyncOpenAI`); the capture's TTFT, E2E and TPOT are compared with the schedule. Client-side times include
loopback, the client's parsing and any scheduling delay of the client or the server, so the errors are
positive and grow with the machine's load: they are reported, not enforced (the tests only check that each
captured time lies between the schedule and the moment the caller got the chunk, see
tests/instrument/test_http_capture.py).

    .venv/bin/python benchmarks/bench_capture.py [--requests 20] [--concurrent 16]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import openai
from bench_requests import async_openai  # benchmarks/ is the script's folder: on sys.path

import workbench as wb
from workbench.serve import start_server

RESULTS = Path(__file__).resolve().parent / "results"
TTFT_MS, DELAY_MS, TOKENS = 60.0, 8.0, 12
MESSAGES = [{"role": "user", "content": "benchmark"}]
E2E_MS = TTFT_MS + (TOKENS - 1) * DELAY_MS


def sequential(base_url: str, store: Path, requests: int) -> list[dict[str, Any]]:
    client = openai.OpenAI(base_url=base_url, api_key="x", max_retries=0)
    with wb.profile(store=store, cpu=False) as run:
        for _ in range(requests):
            for _chunk in client.chat.completions.create(
                model="m", messages=MESSAGES, max_tokens=TOKENS, stream=True
            ):
                pass
    return list(run.metrics["tokens"]["per_request"])


def concurrent(base_url: str, store: Path, requests: int) -> list[dict[str, Any]]:
    with wb.profile(store=store, cpu=False) as run:
        async_openai(base_url, requests, TOKENS)()
    return list(run.metrics["tokens"]["per_request"])


def errors(mode: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"mode": mode, "requests": len(rows)}
    for metric, expected in (("ttft_ms", TTFT_MS), ("e2e_ms", E2E_MS), ("tpot_ms", DELAY_MS)):
        values = [r[metric] - expected for r in rows if r.get(metric) is not None]
        out[metric] = {
            "median": statistics.median(values),
            "p90": statistics.quantiles(values, n=10)[-1] if len(values) >= 2 else values[0],
            "max": max(values, key=abs),
        }
    return out


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"Error of the captured times against the schedule (TTFT {TTFT_MS:.0f} ms, E2E {E2E_MS:.0f} ms, "
        f"TPOT {DELAY_MS:.0f} ms), ms: median / p90 / worst.",
        "",
        "| requests | n | TTFT error | E2E error | TPOT error |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        cells = [
            f"{r[m]['median']:+.1f} / {r[m]['p90']:+.1f} / {r[m]['max']:+.1f}"
            for m in ("ttft_ms", "e2e_ms", "tpot_ms")
        ]
        lines.append(f"| {r['mode']} | {r['requests']} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20, help="one-at-a-time requests (default 20)")
    parser.add_argument("--concurrent", type=int, default=16, help="requests at once (default 16)")
    args = parser.parse_args()
    with (
        start_server(ttft_ms=TTFT_MS, token_delay_ms=DELAY_MS, output_tokens=TOKENS) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        store = Path(tmp)
        sequential(server.base_url, store, 1)  # warm-up: connections, imports, first-call caches
        rows = [
            errors("one at a time", sequential(server.base_url, store, args.requests)),
            errors(f"{args.concurrent} at once", concurrent(server.base_url, store, args.concurrent)),
        ]
    table = markdown(rows)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "capture.json").write_text(json.dumps(rows, indent=2) + "\n")
    (RESULTS / "capture.md").write_text(table + "\n")
    print(f"\nwrote {RESULTS / 'capture.json'} and {RESULTS / 'capture.md'}")


if __name__ == "__main__":
    main()
