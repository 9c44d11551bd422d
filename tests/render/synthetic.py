"""Hand-built runs for the render tests: every duration is chosen here, so expected values are computable."""

from __future__ import annotations

from pathlib import Path

from workbench.analysis.cpu import cpu_metrics
from workbench.analysis.critical_path import stage_metrics
from workbench.analysis.tokens import token_metrics
from workbench.model import CollectorStatus, Frame, Recording, Run, Span, StackSample, TokenEvent

MS = 1_000_000
MAIN_THREAD = 1
WORKER_THREAD = 2


def frame(function: str, file: str = "app.py", line: int = 1) -> Frame:
    return Frame(function, file, line)


def bare_run(recording: Recording, duration_ms: float = 1000.0, **kwargs: object) -> Run:
    return Run(
        id="20250101-000000-test",
        name=str(kwargs.pop("name", "synthetic")),
        created="2025-01-01T00:00:00",
        duration_ns=int(duration_ms * MS),
        origin_wall_s=1_735_689_600.0,
        options={"main_thread_id": MAIN_THREAD},
        recording=recording,
        **kwargs,  # type: ignore[arg-type]
    )


def add_samples(
    rec: Recording,
    stack: list[Frame],
    n: int,
    start_ms: float,
    every_ms: float = 5.0,
    thread: int = MAIN_THREAD,
) -> float:
    stack_id = rec.intern_stack(stack)
    for i in range(n):
        rec.add_sample(StackSample(int((start_ms + i * every_ms) * MS), thread, stack_id, int(every_ms * MS)))
    return start_ms + n * every_ms


def realistic_recording() -> Recording:
    rec = Recording(threads={MAIN_THREAD: "MainThread", WORKER_THREAD: "http-worker"})
    rec.add_span(Span(1, "rag pipeline", "chain", 0, 1200 * MS))
    rec.add_span(Span(2, "retrieve", "retrieval", 20 * MS, 220 * MS, parent_id=1))
    rec.add_span(Span(3, "embed query", "embedding", 25 * MS, 80 * MS, parent_id=2))
    rec.add_span(
        Span(4, "generate answer", "llm", 250 * MS, 800 * MS, parent_id=1, attrs={"model": "demo-lm"})
    )
    rec.add_span(Span(5, "summarize", "llm", 820 * MS, 1150 * MS, parent_id=1, attrs={"model": "demo-lm"}))
    rec.add_span(Span(6, "postprocess", "parse", 1160 * MS, None, parent_id=1))
    for i in range(15):
        rec.add_token(TokenEvent(4, (400 + 25 * i) * MS, 1))
    for i in range(15):
        rec.add_token(TokenEvent(5, (900 + 15 * i) * MS, 2 if i % 3 == 0 else 1))
    cell = frame("<module>", "/tmp/ipykernel_1/123.py", 1)
    pipeline = frame("rag_pipeline", "/home/user/rag.py", 10)
    site = "/usr/lib/python3/site-packages"
    t = add_samples(
        rec,
        [
            cell,
            pipeline,
            frame("retrieve", "/home/user/rag.py", 30),
            frame("encode", f"{site}/sentence_transformers/model.py", 88),
            frame("matmul", f"{site}/numpy/linalg.py", 5),
        ],
        30,
        0,
    )
    t = add_samples(
        rec,
        [
            cell,
            pipeline,
            frame("retrieve", "/home/user/rag.py", 30),
            frame("search", f"{site}/faiss/index.py", 12),
        ],
        12,
        t,
    )
    t = add_samples(
        rec,
        [
            cell,
            pipeline,
            frame("generate", "/home/user/rag.py", 50),
            frame("read_stream", f"{site}/httpx/_client.py", 300),
            frame("recv", "/usr/lib/python3.11/ssl.py", 1100),
        ],
        90,
        t,
    )
    t = add_samples(
        rec,
        [
            cell,
            pipeline,
            frame("generate", "/home/user/rag.py", 50),
            frame("decode_chunk", f"{site}/json/decoder.py", 337),
        ],
        60,
        t,
    )
    t = add_samples(
        rec,
        [
            cell,
            pipeline,
            frame("postprocess", "/home/user/rag.py", 70),
            frame("render_markdown", f"{site}/markdown/core.py", 400),
        ],
        30,
        t,
    )
    add_samples(rec, [], 10, t)
    add_samples(
        rec,
        [frame("run", "/usr/lib/python3.11/threading.py", 980), frame("poll", f"{site}/httpx/_pool.py", 44)],
        40,
        250,
        every_ms=10,
        thread=WORKER_THREAD,
    )
    return rec


def realistic_run() -> Run:
    rec = realistic_recording()
    collectors = [
        CollectorStatus("pyspy", True),
        CollectorStatus("spans", True),
        CollectorStatus("torch", False, "torch is not installed"),
        CollectorStatus("nvml", False, "NVML library not found (no NVIDIA driver)"),
    ]
    run = bare_run(rec, 1200.0, name="rag-v2", collectors=collectors)
    run.metrics = {"cpu": cpu_metrics(rec, None, 200.0), "tokens": token_metrics(rec)}
    run.path = Path("/tmp/.fmprofile/runs") / run.id
    return run


# An SLO that requests 4 and 5 meet: 3 and 7 start too slowly, 7 and 8 decode too slowly, 6 failed.
HTTP_SLO = {"ttft_ms": 60.0, "tpot_ms": 15.0}


def _request(
    rec: Recording,
    span_id: int,
    name: str,
    start_ms: float,
    end_ms: float,
    model: str,
    tokens: list[tuple[float, int]],
    **wire_ms: float,
) -> None:
    """An llm span under the cell; `wire_ms` are the HTTP hook's timestamps in ms (send, headers, ...)."""
    attrs: dict[str, object] = {"model": model}
    for key, value in wire_ms.items():
        attrs[key] = int(value * MS) if key.endswith("_ns") else value
    rec.add_span(Span(span_id, name, "llm", int(start_ms * MS), int(end_ms * MS), parent_id=1, attrs=attrs))
    for t_ms, n in tokens:
        rec.add_token(TokenEvent(span_id, int(t_ms * MS), n))


def http_recording() -> Recording:
    """A cell making LLM requests over HTTP: every wire timestamp, a reused connection, two concurrent
    requests, a failed one, a manual request with no wire timings, two models, a count mismatch.

    Expected values are worked out in tests/render/test_request_view.py.
    """
    rec = Recording(threads={MAIN_THREAD: "MainThread"})
    rec.add_span(Span(1, "agent cell", "cell", 0, 1000 * MS))
    rec.add_span(Span(2, "retrieve", "retrieval", 10 * MS, 100 * MS, parent_id=1))
    _request(
        rec,
        3,
        "plan",
        100,
        240,
        "model-a",
        [(200, 1), (210, 1), (220, 1), (230, 1)],
        connect_start_ns=102,
        connect_end_ns=110,
        send_ns=110,
        headers_ns=150,
        parse_ns=5,
        usage_output_tokens=4,
        stream=True,
    )
    # 4 and 5 run concurrently; 4 reuses a pooled connection (no connect timestamps).
    _request(
        rec,
        4,
        "answer a",
        250,
        345,
        "model-a",
        [(300 + 10 * i, 1) for i in range(5)],
        send_ns=251,
        headers_ns=280,
        usage_output_tokens=5,
    )
    _request(
        rec,
        5,
        "answer b",
        250,
        370,
        "model-b",
        [(320, 2), (340, 2), (360, 2)],
        connect_start_ns=255,
        connect_end_ns=265,
        send_ns=265,
        headers_ns=300,
        usage_output_tokens=6,
    )
    _request(
        rec,
        6,
        "answer c",
        260,
        400,
        "model-b",
        [],
        send_ns=262,
        error="ReadTimeout: timed out",
    )
    # The server reports 4 tokens where the client counted 3.
    _request(
        rec,
        7,
        "summarize",
        420,
        600,
        "model-a",
        [(500, 1), (550, 1), (590, 1)],
        send_ns=425,
        headers_ns=450,
        usage_output_tokens=4,
        depends_on=[3],
    )
    rec.add_span(Span(9, "postprocess", "parse", 610 * MS, 700 * MS, parent_id=1))
    # A manual wb.llm_request: no wire timings, its send is its span's start.
    _request(rec, 8, "local generate", 710, 800, "model-b", [(730, 1), (750, 1), (770, 1)])
    return rec


def http_run(with_metrics: bool = True) -> Run:
    rec = http_recording()
    run = bare_run(rec, 1000.0, name="agent-http", collectors=[CollectorStatus("spans", True)])
    run.options["slo"] = dict(HTTP_SLO)
    if with_metrics:
        run.metrics = {"tokens": token_metrics(rec, slo=HTTP_SLO), "stages": stage_metrics(rec)}
    run.path = Path("/tmp/.fmprofile/runs") / run.id
    return run
