"""The live widget: closed once, however many times it is closed; freeing it prints nothing."""

from __future__ import annotations

import gc
import sys
from typing import Any

import pytest

from workbench.render.live.dashboard import LiveDashboard
from workbench.render.live.widget import BatchedBokehModel


def test_a_closed_live_widget_is_freed_without_an_ignored_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    widgets = [BatchedBokehModel(LiveDashboard(f"cell {n}").layout) for n in range(3)]
    for widget in widgets:
        widget.close()  # what LiveView.replace does when the cell ends
        widget.close()
    del widget, widgets
    gc.collect()  # ipywidgets closes each again in __del__: that used to raise KeyError
    assert unraisable == []
