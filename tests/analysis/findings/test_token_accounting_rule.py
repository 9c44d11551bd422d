"""`token_accounting`: the server's count and the stream's disagree (planted), or agree (control)."""

from __future__ import annotations

from pathlib import Path

import pytest

import workbench as wb
from workbench.analysis.findings import UnknownFindingKind


def stream(n_chunks: int, server_tokens: int) -> None:
    with wb.llm_request(model="m") as request:
        for _ in range(n_chunks):
            request.chunk(1)
        request.usage(output_tokens=server_tokens)


def test_a_stream_counted_at_half_the_servers_tokens_is_found(tmp_path: Path) -> None:
    with wb.profile(store=tmp_path, cpu=False) as run:
        stream(20, server_tokens=40)  # the client counted one token a chunk; the server sent two
        stream(20, server_tokens=20)
    [finding] = [f for f in run.findings if f.kind == "token_accounting"]
    assert finding.evidence == {"requests": 1, "worst_server_tokens": 40, "worst_counted_tokens": 20}
    [pointer] = finding.pointers
    first = next(s for s in run.recording.spans if s.kind == "llm")
    assert pointer.type == "request" and pointer.ref == first.span_id
    assert finding.gain_ms == 0


def test_counts_that_agree_or_differ_by_a_rounding_are_not_reported(tmp_path: Path) -> None:
    with wb.profile(store=tmp_path, cpu=False) as run:
        stream(20, server_tokens=20)
        stream(20, server_tokens=21)  # 5% off: the last chunk's tokens, not a wrong tokenizer
    assert not [f for f in run.findings if f.kind == "token_accounting"]


def test_ignore_finding_leaves_a_kind_out(tmp_path: Path) -> None:
    with wb.profile(store=tmp_path, cpu=False, ignore_findings=("token_accounting",)) as run:
        stream(20, server_tokens=40)
    assert not run.findings
    with pytest.raises(UnknownFindingKind, match="no_such_kind"):
        wb.profile(ignore_findings=("no_such_kind",))
