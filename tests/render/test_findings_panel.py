"""The findings panel's view-model (order, gain text, evidence, pointers, bands and zoom), the escaping of
run strings, and where the panel sits in the dashboard."""

from __future__ import annotations

from typing import Any

import pytest
from bokeh.models.widgets.tables import DataTable, StringFormatter

from workbench.model import Run
from workbench.model.finding import Evidence, Finding
from workbench.render.dashboard import SPACING_PX, DashboardRenderer
from workbench.render.findings_panel import FindingsPanelRenderer, detail_html
from workbench.render.findings_view import FindingsView, gain_text

from .ops_synthetic import large_table, ops_run
from .synthetic import realistic_run

SCRIPT_TITLE = "Slow <script>alert(1)</script> step"
IMG_LABEL = '"><img onerror=alert(1)>'


def findings() -> list[Finding]:
    return [
        Finding(
            kind="network_wait",
            severity="high",
            title="Generation waits on the network",
            evidence={"wait_ms": 456.0, "requests": 2, "share": 0.38},
            pointers=[
                Evidence("span", "generate answer", 250.0, 800.0, ref=4),
                Evidence("frame", "ssl recv", ref="recv"),
            ],
            suggestion="Stream the two requests concurrently.",
            gain_ms=456.0,
            assumption="the requests are independent",
        ),
        Finding(
            kind="serial_embedding",
            severity="medium",
            title="Retrieval encodes queries one at a time",
            evidence={"calls": 30, "encode_ms": 150.0},
            pointers=[
                Evidence("span", "embed query", 25.0, 80.0, ref=3),
                Evidence("frame", "encode"),
                Evidence("time_range", "index search", 150.0, 200.0),
            ],
            suggestion="Batch the queries into one encode call.",
            gain_ms=120.0,
            assumption="batching 30 queries costs about one call",
        ),
        Finding(
            kind="odd",
            severity="low",
            title=SCRIPT_TITLE,
            evidence={"note": IMG_LABEL},
            pointers=[Evidence("metric", IMG_LABEL), Evidence("span", IMG_LABEL, 1000.0)],
            suggestion=f"Rename {IMG_LABEL}",
            gain_ms=0.0,
            assumption="<b>nothing</b>",
        ),
    ]


def findings_run() -> Run:
    """The realistic run (1,200 ms, no cell window: the cell is the whole run) with three findings."""
    run = realistic_run()
    run.metrics["findings"] = [f.to_dict() for f in findings()]
    return run


def test_rows_keep_the_runs_order_and_number_it() -> None:
    view = FindingsView.from_run(findings_run())
    assert [r.rank for r in view.rows] == [1, 2, 3]
    assert [r.title for r in view.rows] == [f.title for f in findings()]
    assert [r.severity for r in view.rows] == ["high", "medium", "low"]
    assert len({r.color for r in view.rows}) == 3


def test_gain_text_is_ms_and_share_of_the_cell() -> None:
    view = FindingsView.from_run(findings_run())
    assert view.cell_ms == pytest.approx(1200.0)
    assert [r.gain_text for r in view.rows] == [
        "~456 ms (38% of the cell)",
        "~120 ms (10% of the cell)",
        "no time estimate",
    ]
    assert gain_text(1234.4, 3250.0) == "~1,234 ms (38% of the cell)"


def test_cell_share_uses_the_recorded_cell_window() -> None:
    run = findings_run()
    run.metrics.update({"cell_start_ms": 200.0, "cell_end_ms": 1112.0})
    assert FindingsView.from_run(run).rows[0].gain_text == "~456 ms (50% of the cell)"


def test_evidence_pointers_and_functions() -> None:
    row = FindingsView.from_run(findings_run()).rows[1]
    assert row.evidence_text == "calls 30, encode_ms 150"
    assert [(p.type, p.label, p.start_ms, p.end_ms) for p in row.pointers] == [
        ("span", "embed query", 25.0, 80.0),
        ("frame", "encode", None, None),
        ("time_range", "index search", 150.0, 200.0),
    ]
    assert row.where_text == "embed query 25.0–80.0 ms; encode; index search 150.0–200.0 ms"
    # A frame pointer's function is its ref when it has one, else its label.
    assert row.functions == ["encode"]
    assert FindingsView.from_run(findings_run()).rows[0].functions == ["recv"]
    assert row.suggestion == "Batch the queries into one encode call."
    assert row.assumption == "batching 30 queries costs about one call"


def test_bands_per_timed_pointer_and_a_zoom_around_them() -> None:
    rows = FindingsView.from_run(findings_run()).rows
    assert rows[1].bands == [(25.0, 80.0), (150.0, 200.0)]
    start, end = rows[1].zoom or (None, None)
    assert start == 0.0  # 25 ms minus the margin, kept inside the run
    assert end == pytest.approx(200.0 + 0.15 * 175.0)
    # An instant is widened so its band can be seen; a pointer with no time has no band.
    (band,) = rows[2].bands
    assert band[0] < 1000.0 < band[1]
    assert band[1] - band[0] == pytest.approx(1200.0 * 0.004)


def test_a_finding_without_times_does_not_zoom() -> None:
    run = realistic_run()
    finding = findings()[0]
    run.metrics["findings"] = [{**finding.to_dict(), "pointers": [{"type": "frame", "label": "recv"}]}]
    row = FindingsView.from_run(run).rows[0]
    assert row.bands == [] and row.zoom is None


def test_run_strings_are_escaped_in_the_details() -> None:
    row = FindingsView.from_run(findings_run()).rows[2]
    text = detail_html(row)
    assert "<script" not in text and "<img" not in text and "<b>nothing" not in text
    assert "Slow &lt;script&gt;alert(1)&lt;/script&gt; step" in text
    assert "&quot;&gt;&lt;img onerror=alert(1)&gt;" in text


def _panel(run: Run) -> Any:
    panel = FindingsPanelRenderer().render(run)
    assert panel is not None
    return panel


def test_table_cells_are_written_as_text() -> None:
    panel = _panel(findings_run())
    (table,) = [child for child in panel.children if isinstance(child, DataTable)]
    # StringFormatter puts a cell's value in as text; an HTML formatter would let a title inject markup.
    assert all(isinstance(c.formatter, StringFormatter) for c in table.columns)
    rows = table.source.data  # type: ignore[attr-defined]
    assert rows["title"][2] == SCRIPT_TITLE
    assert rows["zoom_start"][1] == 0.0
    assert list(rows["band_x0"][1]) == [25.0, 150.0]
    assert list(rows["functions"][1]) == ["encode"]
    assert "&lt;script&gt;" in rows["detail"][2] and "<script" not in rows["detail"][2]


def test_no_panel_without_findings() -> None:
    assert FindingsPanelRenderer().render(realistic_run()) is None


def test_dashboard_puts_the_panel_after_the_header_and_counts_its_height() -> None:
    plain = DashboardRenderer().render(realistic_run())
    with_findings = DashboardRenderer().render(findings_run())
    names = [child.name for child in with_findings.layout.children]
    assert names[:3] == ["summary_header", "findings_panel", "flame"]
    assert "findings_panel" not in [child.name for child in plain.layout.children]
    panel = with_findings.layout.children[1]
    # Each child: its height plus Bokeh's 5 px margin above and below.
    panel_px = sum(int(child.height) + 10 for child in panel.children)
    assert with_findings.height_px - plain.height_px == panel_px + SPACING_PX


def test_dashboard_draws_bands_and_the_flame_outline_only_with_findings() -> None:
    def names(run: Run) -> set[str]:
        layout = DashboardRenderer().render(run).layout
        return {m.name for m in layout.references() if m.name}

    with_findings = names(findings_run())
    assert {"timeline_finding_band", "flame_finding_outline", "finding_bands"} <= with_findings
    assert not {"timeline_finding_band", "flame_finding_outline"} & names(realistic_run())


def test_the_op_timeline_gets_the_bands_too() -> None:
    run = ops_run(large_table(200))
    run.metrics["findings"] = [findings()[1].to_dict()]
    layout = DashboardRenderer().render(run).layout
    names = {m.name for m in layout.references() if m.name}
    assert "ops_timeline_finding_band" in names
