"""`sequential_llm` and `python_stage`: the bottleneck planted in a real run, a control without it, and the
estimated gain judged against the time the fix saved on a recorded pair.

The real runs are judged by margins no scheduling delay crosses (two 150 ms requests in a row save ~150 ms
run at once, against a 10 ms / 5% threshold; a ~400 ms prompt stage before a ~150 ms request is most of the
critical path). Estimate against measured saving is timing: on the recorded pairs here
(`tests/data/findings/`), and measured afresh by `benchmarks/bench_findings.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

import workbench as wb
from tests.analysis.findings.planted import (
    PIPELINE_SERVER,
    RATE,
    ask,
    concurrent_requests,
    pipeline_client,
    rag_cell,
    sequential_requests,
)
from tests.analysis.findings.recorded import measured, recorded
from workbench.analysis.findings.rules.pipeline import python_stage, sequential_llm
from workbench.model.finding import Finding
from workbench.model.run import Run
from workbench.serve import ServerHandle, start_server

TTFT_MS = float(PIPELINE_SERVER["ttft_ms"])
# The estimate assumes the fixed run behaves as the measured one did: on the recorded pair it must land
# within this share of the saving measured there.
GAIN_TOLERANCE = 0.35


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    with start_server(**PIPELINE_SERVER) as handle:
        yield handle


@pytest.fixture(scope="module")
def client(server: ServerHandle) -> openai.OpenAI:
    client = pipeline_client(server)
    ask(client, "warm up the connection")
    return client


def _one(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def _sequential_finding(sequential: Run) -> Finding:
    finding = _one(sequential_llm(sequential, None))
    requests = [s for s in sequential.recording.spans if s.kind == "llm"]
    assert [p.ref for p in finding.pointers] == [s.span_id for s in requests]
    assert all(p.type == "request" and p.start_ms is not None for p in finding.pointers)
    assert finding.evidence["requests"] == 2
    # Run at once, the two take as long as the longer one: the saving is the other one, ~half the cell.
    assert finding.evidence["concurrent_ms"] >= TTFT_MS
    assert finding.gain_ms == pytest.approx(
        finding.evidence["sequential_ms"] - finding.evidence["concurrent_ms"]
    )
    assert finding.severity == "high"
    assert "asyncio.gather" in finding.suggestion
    return finding


def test_sequential_independent_requests_fire_and_the_same_requests_at_once_do_not(
    client: openai.OpenAI, tmp_path: Path
) -> None:
    sequential = sequential_requests(client, tmp_path)
    concurrent = concurrent_requests(client, tmp_path)
    finding = _sequential_finding(sequential)
    assert finding.kind in {f.kind for f in sequential.findings}  # the session stored it too
    assert sequential_llm(concurrent, None) == []


def test_on_the_recorded_pair_the_saving_matches_running_them_at_once() -> None:
    sequential, concurrent = (
        recorded("sequential_llm", "sequential"),
        recorded("sequential_llm", "concurrent"),
    )
    finding = _sequential_finding(sequential)
    assert finding.evidence["concurrent_ms"] == pytest.approx(TTFT_MS, rel=0.3)
    assert sequential_llm(concurrent, None) == []
    saved = measured("sequential_llm")["measured_gain_ms"]
    assert saved == pytest.approx((sequential.wall_s - concurrent.wall_s) * 1000)
    assert finding.gain_ms == pytest.approx(saved, rel=GAIN_TOLERANCE)


def _python_stage_finding(slow: Run) -> Finding:
    finding = _one(python_stage(slow, None))
    (stage_span,) = [s for s in slow.recording.spans if s.kind == "prompt"]
    assert finding.evidence["stage"] == "build prompt"
    assert finding.evidence["critical_share"] > 0.5
    assert finding.evidence["hot_functions"][0]["function"] == "render_template"
    assert finding.pointers[0].ref == stage_span.span_id
    frames = [p for p in finding.pointers if p.type == "frame"]
    assert frames and frames[0].ref == "render_template"
    assert "2x" in finding.assumption
    # Made 2x faster, the stage's busy time halves: the gain is half of it, never more than half the stage.
    assert finding.gain_ms == pytest.approx(
        finding.evidence["critical_ms"] * finding.evidence["busy_ms"] / finding.evidence["sampled_ms"] / 2
    )
    assert 0 < finding.gain_ms <= finding.evidence["critical_ms"] / 2 + 1e-6
    return finding


def test_a_python_stage_on_the_critical_path_fires_with_its_hot_function(
    client: openai.OpenAI, tmp_path: Path
) -> None:
    _python_stage_finding(rag_cell(client, tmp_path, units=8))


def test_on_the_recorded_pair_the_stages_gain_matches_the_stage_made_twice_as_fast() -> None:
    slow, fixed = recorded("python_stage", "slow"), recorded("python_stage", "fixed")
    finding = _python_stage_finding(slow)
    assert finding.evidence["busy_ms"] > 0.8 * finding.evidence["critical_ms"]
    saved = measured("python_stage")["measured_gain_ms"]
    assert saved == pytest.approx((slow.wall_s - fixed.wall_s) * 1000)
    assert finding.gain_ms == pytest.approx(saved, rel=GAIN_TOLERANCE)


def test_a_small_python_stage_does_not_fire(client: openai.OpenAI, tmp_path: Path) -> None:
    with wb.profile(store=tmp_path, rate=RATE) as run:
        with wb.span("build prompt", kind="prompt"):
            prompt = "context"
        ask(client, prompt)
    # Microseconds of prompt against a 150 ms request: nowhere near a tenth of the critical path.
    assert python_stage(run, None) == []
    assert sequential_llm(run, None) == []
