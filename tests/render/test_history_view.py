"""The history sparklines: real runs saved under one name, their points, and the current run highlighted."""

from __future__ import annotations

import copy
import re
import time
from pathlib import Path

import pytest

import workbench as wb
from workbench.model.run import Run
from workbench.render import history_view
from workbench.render.dashboard import SPACING_PX, DashboardRenderer
from workbench.render.history_view import HEIGHT_PX, HistoryRenderer, HistoryView


def profiled(store: Path, name: str, sleep_s: float, tokens: int) -> Run:
    with wb.profile(name=name, store=store, cpu=False) as run, wb.llm_request(model="demo") as request:
        for _ in range(tokens):
            time.sleep(sleep_s / tokens)
            request.chunk(1)
    assert run.path is not None and run.path.parent.parent == store
    return run


@pytest.fixture
def runs(tmp_path: Path) -> list[Run]:
    store = tmp_path / "store"
    first = profiled(store, "x", 0.02, 4)
    profiled(store, "other", 0.01, 2)  # another name in the same store: not in x's history
    second = profiled(store, "x", 0.08, 8)
    third = profiled(store, "x", 0.04, 6)
    return [first, second, third]


def test_the_history_holds_the_runs_of_the_name_up_to_the_current_one(runs: list[Run]) -> None:
    first, second, third = runs
    view = HistoryView.from_run(third)
    assert view is not None
    assert view.name == "x"
    assert view.run_ids == [r.id for r in runs]
    assert view.current == 2
    lines = {line.metric: line for line in view.sparklines}
    assert list(lines) == ["wall_s", "output_tokens_per_s", "ttft_ms_p50"]
    assert lines["wall_s"].values == [r.metrics["wall_s"] for r in runs]
    assert lines["output_tokens_per_s"].values == [r.metrics["tokens"]["output_tokens_per_s"] for r in runs]
    assert lines["ttft_ms_p50"].values == [r.metrics["tokens"]["ttft_ms"]["p50"] for r in runs]
    walls = [r.metrics["wall_s"] for r in runs]
    assert lines["wall_s"].change_pct(2) == pytest.approx(100 * (walls[2] - walls[1]) / walls[1])

    # An earlier run sees only the runs before it; the first of its name has no history.
    earlier = HistoryView.from_run(second)
    assert earlier is not None and earlier.run_ids == [first.id, second.id] and earlier.current == 1
    assert HistoryView.from_run(first) is None


def test_the_current_run_is_highlighted_in_the_dashboard(runs: list[Run]) -> None:
    third = runs[2]
    dashboard = DashboardRenderer().render(third)
    parts = {part.name: part for part in dashboard.layout.children}
    assert [part.name for part in dashboard.layout.children][:2] == ["summary_header", "history_sparkline"]
    text = parts["history_sparkline"].text
    assert text.count("<svg") == 3
    # Three points per line, one of them (the current run's) highlighted, in every line.
    assert text.count("<circle") == 9
    assert re.findall(r'data-run="([^"]+)" data-current="true"', text) == [third.id] * 3
    assert "3 runs" in text

    # The part takes its own height (and one spacing) in the height the dashboard reports.
    unsaved = copy.copy(third)
    unsaved.path = None
    without = DashboardRenderer().render(unsaved)
    assert "history_sparkline" not in {part.name for part in without.layout.children}
    assert dashboard.height_px - without.height_px == HEIGHT_PX + 10 + SPACING_PX

    assert "history_sparkline" not in {p.name for p in DashboardRenderer().render(runs[0]).layout.children}


def test_a_store_that_cannot_be_read_gives_no_history(
    runs: list[Run], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    third = runs[2]
    not_a_store = tmp_path / "file"
    not_a_store.write_text("")
    assert HistoryView.from_run(third, store=not_a_store) is None

    def unreadable(name: str, store: object) -> None:
        raise PermissionError(f"{store}: permission denied")

    monkeypatch.setattr(history_view, "history", unreadable)
    assert HistoryView.from_run(third) is None
    assert HistoryRenderer().render(None) is None
    assert "history_sparkline" not in {p.name for p in DashboardRenderer().render(third).layout.children}
