"""`sequential_llm` and `python_stage` on real runs: the bottleneck planted, a control without it, and the
estimated gain checked against the time actually saved once the bottleneck is fixed."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest

import workbench as wb
from workbench.analysis.findings.rules.pipeline import python_stage, sequential_llm
from workbench.model.finding import Finding
from workbench.model.run import Run
from workbench.serve import ServerHandle, start_server

TTFT_MS = 150.0
# Estimates assume the fixed run behaves as the measured one did; on a shared 2-core VM runs wander by
# tens of ms, so the estimate must land within this fraction of the measured saving.
GAIN_TOLERANCE = 0.35
UNIT = 1_000_000  # ~50 ms of pure-Python work on this VM
RATE = 200


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    with start_server(ttft_ms=TTFT_MS, token_delay_ms=2, output_tokens=4, seed=1) as handle:
        yield handle


@pytest.fixture(scope="module")
def client(server: ServerHandle) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)


def _ask(client: openai.OpenAI, question: str) -> str:
    answer = client.chat.completions.create(
        model="synthetic", messages=[{"role": "user", "content": question}], max_tokens=4
    )
    return answer.choices[0].message.content or ""


def _one(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def test_sequential_independent_requests_fire_and_the_saving_matches_running_them_at_once(
    client: openai.OpenAI, tmp_path: Path
) -> None:
    _ask(client, "warm up the connection")
    questions = ["what is a kernel?", "what is a warp?"]
    with wb.profile(store=tmp_path, cpu=False) as sequential:
        for question in questions:
            _ask(client, question)
    with wb.profile(store=tmp_path, cpu=False) as concurrent, ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda q: _ask(client, q), questions))

    finding = _one(sequential_llm(sequential, None))
    requests = [s for s in sequential.recording.spans if s.kind == "llm"]
    assert [p.ref for p in finding.pointers] == [s.span_id for s in requests]
    assert all(p.type == "request" and p.start_ms is not None for p in finding.pointers)
    assert finding.evidence["requests"] == 2
    assert finding.evidence["concurrent_ms"] == pytest.approx(TTFT_MS, rel=0.3)
    assert finding.severity == "high"  # half the cell
    assert "asyncio.gather" in finding.suggestion
    assert finding.kind in {f.kind for f in sequential.findings}  # the session stored it too

    assert sequential_llm(concurrent, None) == []
    measured = (sequential.wall_s - concurrent.wall_s) * 1000
    assert finding.gain_ms == pytest.approx(measured, rel=GAIN_TOLERANCE)


def render_template(units: int) -> str:
    total = 0
    for i in range(units * UNIT):
        total += i * i % 7
    return f"context {total}"


def _rag_cell(client: openai.OpenAI, units: int) -> None:
    with wb.span("build prompt", kind="prompt"):
        prompt = render_template(units)
    _ask(client, prompt)


def _profile_rag(client: openai.OpenAI, store: Path, units: int) -> Run:
    with wb.profile(store=store, rate=RATE) as run:
        _rag_cell(client, units)
    return run


def test_a_python_stage_on_the_critical_path_fires_with_its_hot_function(
    client: openai.OpenAI, tmp_path: Path
) -> None:
    _ask(client, "warm up the connection")
    # Pure-Python work is at the mercy of whatever else the 2-core VM runs: slow and fixed runs alternate,
    # and the estimate is compared with the median saving over the pairs.
    pairs = [
        (_profile_rag(client, tmp_path, units=8), _profile_rag(client, tmp_path, units=4)) for _ in range(3)
    ]
    estimates = [_one(python_stage(slow, None)).gain_ms for slow, _ in pairs]
    measured = [(slow.wall_s - fixed.wall_s) * 1000 for slow, fixed in pairs]
    assert statistics.median(estimates) == pytest.approx(statistics.median(measured), rel=GAIN_TOLERANCE)

    slow = pairs[0][0]
    finding = _one(python_stage(slow, None))
    (stage_span,) = [s for s in slow.recording.spans if s.kind == "prompt"]
    assert finding.evidence["stage"] == "build prompt"
    assert finding.evidence["critical_share"] > 0.5
    assert finding.evidence["hot_functions"][0]["function"] == "render_template"
    assert finding.evidence["busy_ms"] > 0.8 * finding.evidence["critical_ms"]
    assert finding.pointers[0].ref == stage_span.span_id
    frames = [p for p in finding.pointers if p.type == "frame"]
    assert frames and frames[0].ref == "render_template"
    assert "2x" in finding.assumption


def test_a_small_python_stage_does_not_fire(client: openai.OpenAI, tmp_path: Path) -> None:
    _ask(client, "warm up the connection")
    with wb.profile(store=tmp_path, rate=RATE) as run:
        with wb.span("build prompt", kind="prompt"):
            prompt = "context"
        _ask(client, prompt)
    assert python_stage(run, None) == []
    assert sequential_llm(run, None) == []
