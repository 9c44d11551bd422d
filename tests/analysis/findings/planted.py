"""Real workloads with a planted bottleneck, each beside its fix or a control, for the finding rules.

The tests run a few of them once, to see a rule fire (or stay silent) in a real run, and judge them only by
margins that no scheduling delay crosses. How close a rule's estimated gain comes to the gain measured by
running the fix is a timing question: `benchmarks/bench_findings.py` runs these pairs repeatedly and prints
estimate / measured per rule, and `--record` writes one pair of each to `tests/data/findings/`, where the
tests judge the estimates on the same recorded runs every time (`tests/analysis/findings/recorded.py`).
"""

from __future__ import annotations

import os
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import openai

import workbench as wb
from workbench.clock import RunClock
from workbench.collectors.base import CollectorContext
from workbench.collectors.gil_probe import GilProbe
from workbench.collectors.inprocess import InProcessSampler
from workbench.model.events import Span, TokenEvent
from workbench.model.gil import NOTES_KEY
from workbench.model.recording import Recording
from workbench.model.run import Run
from workbench.serve import ServerHandle

# gil_contention: a stream read from a child process's pipe every PERIOD_S (as a server's socket would be;
# a Python feeder thread would itself wait for the GIL), beside a thread spinning in Python or sleeping.
PERIOD_S = 0.01  # 100 chunks/s, an LLM stream's pace; longer than a 5 ms GIL wait, so chunks do not pile up
CHUNKS = 100
FEEDER = """
import os, struct, sys, time
n, period = int(sys.argv[1]), float(sys.argv[2])
deadline = time.perf_counter()
for _ in range(n):
    deadline += period
    while (left := deadline - time.perf_counter()) > 0:
        time.sleep(left)
    os.write(1, struct.pack("q", time.perf_counter_ns()))
"""

# The servers the request-level workloads talk to (`workbench.serve.start_server` keyword arguments).
PIPELINE_SERVER = {"ttft_ms": 150.0, "token_delay_ms": 2, "output_tokens": 4, "seed": 1}
STREAM_SERVER = {"ttft_ms": 80.0, "token_delay_ms": 2.0, "output_tokens": 40, "seed": 1}
FAN_OUT = 6  # requests at once through the client_queueing workload's pool
UNIT = 1_000_000  # ~50 ms of pure-Python work on the 2-core VM
RATE = 200


@dataclass
class GilMeasured:
    """A profiled run of the GIL workload and each chunk's delay from the feeder's send to the reader."""

    run: Run
    delays_ms: list[float] = field(default_factory=list)


def _score_documents(stop: threading.Event) -> None:
    """The planted CPU-bound Python: scoring in a plain loop, never releasing the GIL on its own."""
    while not stop.is_set():
        total = 0
        for i in range(5000):
            total += i * i % 7


def _poll_storage(stop: threading.Event) -> None:
    """The control's other thread: waits on I/O (here a sleep), holding the GIL only briefly."""
    while not stop.is_set():
        time.sleep(0.01)


GIL_WORKERS: dict[str, Callable[[threading.Event], None]] = {
    "planted": _score_documents,
    "control": _poll_storage,
}


def _read_stream(fd: int, context: CollectorContext, delays_ms: list[float]) -> None:
    recording, clock = context.recording, context.clock
    span = Span(1, "stream", "llm", clock.now_ns(), None, thread_id=threading.get_ident())
    recording.add_span(span)
    while data := os.read(fd, 8):  # pipe writes of 8 bytes arrive whole
        now = time.perf_counter_ns()
        (sent,) = struct.unpack("q", data)
        delays_ms.append((now - sent) / 1e6)
        recording.add_token(TokenEvent(1, clock.from_perf_ns(now), 1))
    span.end_ns = clock.now_ns()


def profile_gil(other: Callable[[threading.Event], None], with_reader: bool = True) -> GilMeasured:
    """The GIL probe and the in-process sampler around a stream reader (or, without it, a thread waiting
    for the feeder) and `other` in a second thread, as a session would record them."""
    context = CollectorContext(RunClock.start(), Recording(), os.getpid(), threading.get_ident())
    probe, sampler = GilProbe(), InProcessSampler("test")
    probe.start(context)
    sampler.start(context)
    stop = threading.Event()
    measured = GilMeasured(run=Run("gil", "gil", "", 0, context.clock.origin_wall_s))
    feeder = subprocess.Popen(
        [sys.executable, "-c", FEEDER, str(CHUNKS if with_reader else 60), str(PERIOD_S)],
        stdout=subprocess.PIPE,
    )
    assert feeder.stdout is not None
    fd = feeder.stdout.fileno()
    reader = threading.Thread(
        target=_read_stream if with_reader else lambda *_: feeder.wait(),
        args=(fd, context, measured.delays_ms),
        name="stream-reader",
    )
    worker = threading.Thread(target=other, args=(stop,), name="worker")
    reader.start()
    worker.start()
    try:
        reader.join()
    finally:
        stop.set()
        worker.join()
        feeder.wait()
        feeder.stdout.close()
    sampler.stop()
    probe.stop()
    end = context.clock.now_ns()
    recording = context.recording
    for thread in (reader, worker):
        assert thread.ident is not None
        recording.threads[thread.ident] = thread.name
    run = measured.run
    run.recording, run.duration_ns = recording, end
    run.metrics = {"wall_s": end / 1e9, "cell_start_ms": 0.0, "cell_end_ms": end / 1e6}
    run.metrics[NOTES_KEY] = context.notes[NOTES_KEY]
    return measured


def gil_lost_ms(planted: GilMeasured, control: GilMeasured) -> float:
    """The planted reader's lost time: what its chunks' delays add up to beyond the control's typical one."""
    return sum(planted.delays_ms) - statistics.median(control.delays_ms) * len(planted.delays_ms)


def pipeline_client(server: ServerHandle) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)


def ask(client: openai.OpenAI, question: str) -> str:
    answer = client.chat.completions.create(
        model="synthetic", messages=[{"role": "user", "content": question}], max_tokens=4
    )
    return answer.choices[0].message.content or ""


QUESTIONS = ("what is a kernel?", "what is a warp?")


def sequential_requests(client: openai.OpenAI, store: Path) -> Run:
    """sequential_llm, planted: two independent requests one after another."""
    with wb.profile(store=store, cpu=False) as run:
        for question in QUESTIONS:
            ask(client, question)
    return run


def concurrent_requests(client: openai.OpenAI, store: Path) -> Run:
    """sequential_llm, fixed: the same two requests at once."""
    with wb.profile(store=store, cpu=False) as run, ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda q: ask(client, q), QUESTIONS))
    return run


def render_template(units: int) -> str:
    total = 0
    for i in range(units * UNIT):
        total += i * i % 7
    return f"context {total}"


def rag_cell(client: openai.OpenAI, store: Path, units: int) -> Run:
    """python_stage: a prompt built by `units` of pure Python before one request (planted 8, fixed 4)."""
    with wb.profile(store=store, rate=RATE) as run:
        with wb.span("build prompt", kind="prompt"):
            prompt = render_template(units)
        ask(client, prompt)
    return run


def _stream(client: httpx.Client, url: str, max_tokens: int) -> None:
    body = {"model": "synthetic", "messages": [{"role": "user", "content": "hi"}], "max_tokens": max_tokens,
            "stream": True}  # fmt: skip
    with client.stream("POST", f"{url}/chat/completions", json=body) as response:
        for _ in response.iter_lines():
            pass


def fan_out(server: ServerHandle, store: Path, connections: int) -> Run:
    """client_queueing: FAN_OUT streams at once through a pool of `connections` (planted 1, fixed FAN_OUT)."""
    limits = httpx.Limits(max_connections=connections)
    with (
        httpx.Client(limits=limits, timeout=30) as client,
        wb.profile(store=store, cpu=False) as run,
        ThreadPoolExecutor(FAN_OUT) as pool,
    ):
        list(pool.map(lambda _: _stream(client, server.base_url, 4), range(FAN_OUT)))
    return run


def read_stream(server: ServerHandle, store: Path, work_s: float) -> Run:
    """slow_consumer: a stream read with `work_s` of work per chunk (planted 8 ms, fixed 4 ms, control 0)."""
    client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    with wb.profile(store=store, cpu=False) as run:
        stream = client.chat.completions.create(
            model="synthetic",
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=int(STREAM_SERVER["output_tokens"]),
            stream=True,
        )
        for _ in stream:
            if work_s:
                time.sleep(work_s)  # the reader's per-chunk work (rendering, a callback)
    return run


def score_documents(units: int) -> int:
    total = 0
    for i in range(units * UNIT):
        total += i * i % 7
    return total


def format_answer(units: int) -> int:
    total = 0
    for i in range(units * UNIT):
        total += i * i % 5
    return total


def scoring_pipeline(store: Path, score_units: int) -> Run:
    """regression: retrieval scoring `score_units` of Python, then the answer's 2 (baseline 2, slower 6)."""
    with wb.profile(store=store, rate=RATE) as run:
        with wb.span("retrieve", kind="retrieval"):
            score_documents(score_units)
        with wb.span("answer", kind="parse"):
            format_answer(2)
    return run
