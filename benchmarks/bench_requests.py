"""What recording LLM requests costs the client: the openai SDK and httpx, with and without a profile.

Against the local synthetic server with no artificial delay (so the client's own work is a large share of
each request), the same workloads run unprofiled, under `wb.profile(cpu=False)` (request capture only)
and under `wb.profile()` (capture plus py-spy sampling), interleaved (A B C A B C ...), after a warm-up.
Each repetition is timed inside the process: wall time and this process's CPU time per request. The
overhead per request is the difference of medians against the unprofiled runs of the same repetition
set, so that drift of the machine over the benchmark cancels out.

    .venv/bin/python benchmarks/bench_requests.py [--repeat 7] [--requests 40] [--tokens 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai

import workbench as wb
from workbench.serve import start_server

RESULTS = Path(__file__).resolve().parent / "results"
MESSAGES = [{"role": "user", "content": "benchmark"}]


def sync_openai(base_url: str, requests: int, tokens: int) -> Callable[[], None]:
    client = openai.OpenAI(base_url=base_url, api_key="x", max_retries=0)

    def workload() -> None:
        for _ in range(requests):
            for _chunk in client.chat.completions.create(
                model="m", messages=MESSAGES, max_tokens=tokens, stream=True
            ):
                pass

    return workload


def async_openai(base_url: str, requests: int, tokens: int) -> Callable[[], None]:
    def workload() -> None:
        async def main() -> None:
            client = openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0)

            async def one() -> None:
                stream = await client.chat.completions.create(
                    model="m", messages=MESSAGES, max_tokens=tokens, stream=True
                )
                async for _chunk in stream:
                    pass

            await asyncio.gather(*(one() for _ in range(requests)))
            await client.close()

        asyncio.run(main())

    return workload


def plain_httpx(base_url: str, requests: int, tokens: int) -> Callable[[], None]:
    client = httpx.Client()
    body = {"model": "m", "messages": MESSAGES, "max_tokens": tokens, "stream": True}

    def workload() -> None:
        for _ in range(requests):
            with client.stream("POST", f"{base_url}/chat/completions", json=body) as response:
                for _line in response.iter_lines():
                    pass

    return workload


def measure(workload: Callable[[], None], mode: str, store: Path) -> tuple[float, float, int]:
    """(wall s, CPU s, requests recorded) of one repetition under `mode`."""
    if mode == "unprofiled":
        wall, cpu = time.perf_counter(), time.process_time()
        workload()
        return time.perf_counter() - wall, time.process_time() - cpu, 0
    with wb.profile(store=store, cpu=mode == "profiled") as run:
        wall, cpu = time.perf_counter(), time.process_time()
        workload()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    recorded = sum(1 for s in run.recording.spans if s.kind == "llm")
    return wall, cpu, recorded


MODES = ("unprofiled", "capture only", "profiled")
WORKLOADS = {
    "openai sync stream": sync_openai,
    "openai async, all concurrent": async_openai,
    "httpx sync stream": plain_httpx,
}


def run_benchmark(repeat: int, requests: int, tokens: int) -> list[dict[str, Any]]:
    rows = []
    with (
        start_server(ttft_ms=0, token_delay_ms=0, output_tokens=tokens) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        store = Path(tmp)
        for name, make in WORKLOADS.items():
            workload = make(server.base_url, requests, tokens)
            for mode in MODES:  # warm-up: connections, imports, first-call caches
                measure(workload, mode, store)
            samples: dict[str, list[tuple[float, float, int]]] = {mode: [] for mode in MODES}
            for _ in range(repeat):
                for mode in MODES:
                    samples[mode].append(measure(workload, mode, store))
            base_wall = statistics.median(s[0] for s in samples["unprofiled"])
            base_cpu = statistics.median(s[1] for s in samples["unprofiled"])
            for mode in MODES:
                walls = [s[0] for s in samples[mode]]
                cpus = [s[1] for s in samples[mode]]
                wall, cpu = statistics.median(walls), statistics.median(cpus)
                rows.append(
                    {
                        "workload": name,
                        "mode": mode,
                        "requests": requests,
                        "tokens_per_request": tokens,
                        "recorded_requests": max(s[2] for s in samples[mode]),
                        "wall_ms_per_request": 1e3 * wall / requests,
                        "wall_spread_ms": 1e3 * (max(walls) - min(walls)) / requests,
                        "cpu_ms_per_request": 1e3 * cpu / requests,
                        "wall_ratio": wall / base_wall,
                        "overhead_wall_us_per_request": 1e6 * (wall - base_wall) / requests,
                        "overhead_cpu_us_per_request": 1e6 * (cpu - base_cpu) / requests,
                        "overhead_cpu_us_per_chunk": 1e6 * (cpu - base_cpu) / (requests * tokens),
                    }
                )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| workload | mode | wall ms/request | ×unprofiled | client CPU ms/request | "
        "added CPU µs/request | added CPU µs/chunk |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['workload']} | {r['mode']} | "
            f"{r['wall_ms_per_request']:.2f} ± {r['wall_spread_ms'] / 2:.2f} | {r['wall_ratio']:.2f} | "
            f"{r['cpu_ms_per_request']:.2f} | "
            f"{r['overhead_cpu_us_per_request']:.0f} | {r['overhead_cpu_us_per_chunk']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args()
    rows = run_benchmark(args.repeat, args.requests, args.tokens)
    table = markdown(rows)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "requests.json").write_text(json.dumps(rows, indent=2))
    (RESULTS / "requests.md").write_text(table + "\n")
    print(f"\nwrote {RESULTS / 'requests.json'} and {RESULTS / 'requests.md'}")


if __name__ == "__main__":
    main()
