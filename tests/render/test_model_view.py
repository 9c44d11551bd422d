"""The per-model table and the goodput phrase."""

from __future__ import annotations

import pytest

from workbench.model import Recording
from workbench.render.model_view import ModelTableView, goodput_phrase
from workbench.render.tables import ModelTableRenderer

from .synthetic import bare_run, http_run, realistic_run


def test_one_row_per_model_with_its_own_statistics() -> None:
    view = ModelTableView.from_run(http_run())
    rows = {r.model: r for r in view.rows}
    assert list(rows) == ["model-a", "model-b"]
    assert (rows["model-a"].requests, rows["model-a"].failed) == (3, 0)
    assert (rows["model-b"].requests, rows["model-b"].failed) == (3, 1)
    # model-a: TTFT 90, 49, 75 ms; model-b's successful requests: 55 and 20 ms.
    assert rows["model-a"].latency_ms["TTFT p50"] == pytest.approx(75.0)
    assert rows["model-b"].latency_ms["TTFT p50"] == pytest.approx(37.5)
    assert rows["model-a"].latency_ms["TPOT p90"] == pytest.approx(26.0)
    assert rows["model-b"].latency_ms["E2E p90"] == pytest.approx(91.5)
    per_model = http_run().metrics["tokens"]["per_model"]
    assert rows["model-b"].output_tokens_per_s == pytest.approx(per_model["model-b"]["output_tokens_per_s"])
    # Goodput per model: 4 meets the SLO among model-a's, 5 among model-b's.
    assert (rows["model-a"].goodput, rows["model-b"].goodput) == ("1/3", "1/3")


def test_goodput_phrase_names_the_slo() -> None:
    view = ModelTableView.from_run(http_run())
    assert view.goodput == "goodput 2/6 (33%) meet ttft_ms≤60, tpot_ms≤15; 3.0 req/s"
    share = {"slo": {"ttft_ms": 200.0, "tpot_ms": 50.0}, "requests": 32, "met": 27, "share": 27 / 32}
    assert goodput_phrase({**share, "per_s": 3.14}) == (
        "goodput 27/32 (84%) meet ttft_ms≤200, tpot_ms≤50; 3.1 req/s"
    )
    assert goodput_phrase(None) is None


def test_without_an_slo_no_goodput_column() -> None:
    run = realistic_run()
    view = ModelTableView.from_run(run)
    assert view.goodput is None and [r.model for r in view.rows] == ["demo-lm"]
    div = ModelTableRenderer().render(run)
    assert "met SLO" not in div.text and "demo-lm" in div.text


def test_a_run_saved_without_token_metrics_uses_its_slo_option() -> None:
    view = ModelTableView.from_run(http_run(with_metrics=False))
    assert view == ModelTableView.from_run(http_run())


def test_no_requests_no_table() -> None:
    assert ModelTableView.from_run(bare_run(Recording())).empty
    assert ModelTableRenderer().render(bare_run(Recording())) is None


def test_model_table_html() -> None:
    div = ModelTableRenderer().render(http_run())
    assert div.name == "model_table"
    assert "<th>met SLO</th>" in div.text
    assert "<td>model-b</td><td>3</td><td>1</td><td>37.5</td>" in div.text
    assert "goodput 2/6 (33%)" in div.text
