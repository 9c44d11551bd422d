"""The token panel's view-model: binned tokens/s and per-request TTFT and TPOT."""

from __future__ import annotations

import pytest

from workbench.model import Recording, Span, TokenEvent
from workbench.render.token_view import MIN_BIN_MS, TokenPanelView, bin_rate, bin_width_ms

from .synthetic import MS, bare_run, realistic_run


def _panel(duration_ms: float = 1000.0) -> TokenPanelView:
    rec = Recording()
    rec.add_span(Span(1, "ask", "llm", 100 * MS, 600 * MS))
    rec.add_span(Span(2, "ask again", "llm", 300 * MS, 900 * MS))
    rec.add_token(TokenEvent(1, 100 * MS, 0))  # an empty first chunk: not the first token
    for i, t_ms in enumerate((250, 270, 290, 350)):
        rec.add_token(TokenEvent(1, t_ms * MS, 1 + i % 2))
    for t_ms in (420, 440, 460):
        rec.add_token(TokenEvent(2, t_ms * MS, 3))
    rec.add_token(TokenEvent(2, int(duration_ms * MS), 1))  # exactly at the run's end
    return TokenPanelView.from_run(bare_run(rec, duration_ms))


def test_binned_tokens_sum_to_the_token_count() -> None:
    panel = _panel()
    expected = (1 + 2 + 1 + 2) + 3 * 3 + 1
    assert sum(panel.rate.tokens) == expected
    seconds = panel.rate.bin_ms / 1000
    assert sum(r * seconds for r in panel.rate.tokens_per_s) == pytest.approx(expected)


def test_bins_cover_the_run_without_gaps() -> None:
    rate = _panel().rate
    assert rate.start_ms[0] == 0.0
    assert rate.end_ms[-1] >= 1000.0
    assert all(a == pytest.approx(b) for a, b in zip(rate.end_ms, rate.start_ms[1:], strict=False))


@pytest.mark.parametrize(
    ("duration_ms", "bins_low", "bins_high"),
    [(10_000.0, 20, 50), (60_000.0, 20, 50), (1234.0, 20, 50), (100.0, 1, 10)],
)
def test_bin_width_gives_about_fifty_bins_of_at_least_ten_ms(
    duration_ms: float, bins_low: int, bins_high: int
) -> None:
    width = bin_width_ms(duration_ms)
    assert width >= MIN_BIN_MS
    assert bins_low <= len(bin_rate([], duration_ms).tokens) <= bins_high


def test_arrivals_land_in_the_bin_of_their_time() -> None:
    rate = bin_rate([TokenEvent(1, 15 * MS, 2), TokenEvent(1, 25 * MS, 5)], duration_ms=100.0)
    assert rate.bin_ms == 10.0
    assert rate.tokens[1] == 2 and rate.tokens[2] == 5
    assert rate.tokens_per_s[2] == pytest.approx(5 / 0.010)


def test_ttft_and_tpot_per_request_match_a_hand_computation() -> None:
    rows = {r.request_id: r for r in _panel().requests}
    # Request 1: sent at 100 ms, first non-empty chunk at 250 ms, last at 350 ms, 6 tokens.
    assert rows[1].ttft_ms == pytest.approx(150.0)
    assert rows[1].e2e_ms == pytest.approx(250.0)
    assert rows[1].tpot_ms == pytest.approx((250.0 - 150.0) / (6 - 1))
    # Request 2: sent at 300 ms, first chunk at 420 ms, last at 1000 ms, 10 tokens.
    assert rows[2].ttft_ms == pytest.approx(120.0)
    assert rows[2].tpot_ms == pytest.approx((700.0 - 120.0) / (10 - 1))
    assert rows[1].label == "ask #1"


def test_request_without_tokens_has_gaps_not_zeros() -> None:
    rec = Recording()
    rec.add_span(Span(1, "silent", "llm", 0, 10 * MS))
    panel = TokenPanelView.from_run(bare_run(rec, 100.0))
    data = panel.request_columns()
    assert data["ttft_ms"][0] != data["ttft_ms"][0]  # NaN: drawn as a gap
    assert not panel.empty


def test_realistic_run_counts_every_token() -> None:
    run = realistic_run()
    assert sum(TokenPanelView.from_run(run).rate.tokens) == sum(t.n_tokens for t in run.recording.tokens)


def test_no_requests_is_empty() -> None:
    assert TokenPanelView.from_run(bare_run(Recording())).empty
