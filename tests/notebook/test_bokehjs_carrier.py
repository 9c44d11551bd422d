"""Which dashboard output carries BokehJS: the kernel's first, and again its cell's when that cell runs
again; every other output goes without (and takes it from the page)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from workbench.notebook import bokehjs_carrier


@pytest.fixture
def cell(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str | None]]:
    """The cell being executed (the execute request's `cellId`), set by the test."""
    current: list[str | None] = [None]
    monkeypatch.setattr(bokehjs_carrier, "current_cell_id", lambda: current[0])
    bokehjs_carrier.reset()
    yield current
    bokehjs_carrier.reset()


def test_the_first_output_carries_and_later_cells_do_not(cell: list[str | None]) -> None:
    carried = []
    for cell_id in ("a", "b", "c", "b"):
        cell[0] = cell_id
        carried.append(bokehjs_carrier.carry_bokehjs())
    assert carried == [True, False, False, False]


def test_the_carrier_cell_run_again_carries_again(cell: list[str | None]) -> None:
    cell[0] = "a"
    assert bokehjs_carrier.carry_bokehjs()
    cell[0] = "b"
    assert not bokehjs_carrier.carry_bokehjs()
    cell[0] = "a"  # its old output, the carrier, is being replaced
    assert bokehjs_carrier.carry_bokehjs()


def test_a_frontend_that_names_no_cell_gets_one_carrier(cell: list[str | None]) -> None:
    assert bokehjs_carrier.carry_bokehjs()
    assert not bokehjs_carrier.carry_bokehjs()
    assert not bokehjs_carrier.carry_bokehjs()
