"""The budget grammar at its boundary: every input returns budgets or raises one `BudgetError` naming a place
in the text; none hangs (a budget ending in a metric name once spun for ever: `"" in "_-"` is true at the
end of the text). A hang shows as a pytest-timeout failure, not a timing tolerance."""

from __future__ import annotations

import string
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workbench as wb
from workbench.analysis.budget import BudgetError, parse_budget

# Pieces of the grammar, so that generated text reaches deep into it rather than failing at the first char.
PIECES = [
    "wall_s", "ttft_ms", "tpot_ms", "e2e_ms", "tokens", "metrics", "cpu", "stages", "goodput", "share",
    "p50", "p90", "mean", ".", "<=", "<", ">=", ">", "=", "+", "-", "%", "e", "E", "1", "0.5", "250",
    ",", ";", " ", "_", "breakdown_ms", "decode_ms", "per_model", "nan", "inf", "1e309", "\t", "é",
]  # fmt: skip

GRAMMAR = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)
ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ENDING_IN_A_NAME = ["wall_s", "ttft_ms.p90", "wall_s<=5, e2e", "metrics.a-b", "wall_s<=5;cpu", "_", "a-"]


def _parses_or_names_a_place(text: str) -> None:
    try:
        budgets = parse_budget(text)
    except BudgetError as error:
        assert 0 <= error.position <= len(text)
        assert str(error).startswith("bad budget: ")
    else:
        assert budgets and all(b.op in ("<=", "<", ">=", ">") for b in budgets)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("text", ENDING_IN_A_NAME)
def test_a_budget_ending_in_a_metric_name_is_an_error_not_a_hang(text: str) -> None:
    with pytest.raises(BudgetError):
        parse_budget(text)


@pytest.mark.timeout(120)
@SETTINGS
@given(GRAMMAR)
def test_text_made_of_the_grammars_pieces_parses_or_fails_cleanly(text: str) -> None:
    _parses_or_names_a_place(text)


@pytest.mark.timeout(120)
@SETTINGS
@given(ANY_TEXT)
def test_any_text_parses_or_fails_cleanly(text: str) -> None:
    _parses_or_names_a_place(text)


@pytest.mark.timeout(60)
def test_workbench_check_with_a_bare_metric_exits_2_with_the_parsers_error(tmp_path: Path) -> None:
    with wb.profile(name="guarded", store=tmp_path, cpu=False):
        pass
    command = [sys.executable, "-m", "workbench", "--store", str(tmp_path), "check", "guarded"]
    out = subprocess.run([*command, "--budget", "wall_s"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "expected a comparison <=, <, >= or > after 'wall_s'" in out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr


def test_the_pieces_cover_every_character_class_the_scanner_branches_on() -> None:
    joined = "".join(PIECES)
    assert set(",;.<>=+-%eE_") <= set(joined) and set(string.digits[:2]) <= set(joined)
