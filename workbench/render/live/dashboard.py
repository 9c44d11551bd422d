"""The live dashboard: Bokeh models that a `LiveSnapshot` updates in place while the cell runs.

Only increments travel: spans, token arrivals and rate points are streamed with a rollover; the flame
graph's (small, level-of-detail) layout is replaced only when a sample was added. The page notices by
itself when updates stop arriving (a C call holding the GIL stops every Python thread): see `STALE_JS`.
"""

from __future__ import annotations

import html
from typing import Any

from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource, CustomJS, DataRange1d, HoverTool, Range1d
from bokeh.models.widgets import Div
from bokeh.plotting import figure

from workbench.model.finding import Finding
from workbench.model.series import split_series
from workbench.render.findings_view import SEVERITY_COLORS
from workbench.render.flame_plot import icicle_figure, source_data
from workbench.render.flame_view import FlameView
from workbench.render.labels import fit_labels
from workbench.render.layout_parts import data_source
from workbench.render.live.snapshot import LiveSnapshot, SpanRow, TokenRow
from workbench.render.palette import TOKEN_COLOR

SPAN_ROLLOVER = 2_000
TOKEN_ROLLOVER = 5_000
RATE_ROLLOVER = 600
RATE_SECONDS = 30
STALE_AFTER_MS = 1_500
FLAME_HEIGHT_PX = 280
TIMELINE_HEIGHT_PX = 220
RATE_HEIGHT_PX = 180
# The live findings list: the few largest gains (the final panel has them all, with their evidence).
LIVE_FINDINGS = 4
FINDINGS_NOTE = (
    "the rules run every few seconds on the run so far; the final list, with its evidence, replaces this "
    "when the cell ends"
)
FINDINGS_STYLE = "font: 13px sans-serif; margin: 2px 0; line-height: 1.5"

# Runs in the browser on every heartbeat from the kernel. It counts arrivals (window._wb_live, read by
# tests) and starts, once, a browser-side timer: the kernel cannot say "I am blocked", so the page says it
# when no heartbeat came for STALE_AFTER_MS. The timer stops with the final update, or when the widget's
# models leave their document.
STALE_JS = """
const live = (window._wb_live = window._wb_live || {});
const key = status.id;
const st = live[key] || (live[key] = {updates: 0, last: 0, timer: null, stale: false});
st.updates += 1;
st.last = Date.now();
const done = status.tags.length > 0;
if (st.stale) {
  st.stale = false;
  banner.visible = false;
}
if (st.timer === null && !done) {
  st.timer = setInterval(() => {
    // The final update tags the status "done"; a model taken out of its document is gone too. (The
    // widget's views are not in Bokeh's global index, so they cannot be looked up from here.)
    if (status.tags.length > 0 || status.document == null) {
      clearInterval(st.timer);
      return;
    }
    if (!st.stale && Date.now() - st.last > stale_ms) {
      st.stale = true;
      const since = new Date(st.last).toLocaleTimeString();
      banner.text = '<div style="' + style + '">⏳ Waiting for the GIL: no update from the kernel since ' +
        since + '. The cell is probably in a C call that holds the GIL (every Python thread waits for ' +
        'it); the view resumes when the call returns.</div>';
      banner.visible = true;
    }
  }, 250);
}
"""
BANNER_STYLE = "background: #fff3cd; border: 1px solid #e0c36c; padding: 4px 8px; font: 13px sans-serif"
SUMMARY_STYLE = "font: 13px sans-serif; display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 2px 0"


class LiveDashboard:
    """The models of the live view; `layout` goes into a widget, `update` applies one snapshot."""

    def __init__(self, title: str = "") -> None:
        self.title = title
        self.status = Div(text=_status_html(title, "starting", 0.0, 0), name="live_status")
        self.banner = Div(text="", visible=False, name="live_banner")
        self.summary = Div(text="", name="live_summary")
        # The status text changes on every tick: its change is the page's heartbeat.
        self.status.js_on_change(
            "text",
            CustomJS(
                args={
                    "status": self.status,
                    "banner": self.banner,
                    "stale_ms": STALE_AFTER_MS,
                    "style": BANNER_STYLE,
                },
                code=STALE_JS,
            ),
        )
        self.flame_rects = data_source(_empty_flame(), name="live_flame_rects")
        self.flame_labels = data_source({"x": [], "y": [], "text": []}, name="live_flame_labels")
        self.flame = _flame_figure(self.flame_rects, self.flame_labels)
        self.spans = data_source(_span_columns(), name="live_spans")
        self.open_spans = data_source(_span_columns(), name="live_open_spans")
        self.tokens = data_source({"t_s": [], "lane": [], "n_tokens": []}, name="live_tokens")
        self.timeline = _timeline_figure(self.spans, self.open_spans, self.tokens)
        self.rate = data_source({"t_s": [], "tokens_per_s": []}, name="live_rate")
        self.rate_figure = _rate_figure(self.rate)
        # The findings so far as columns (the view-model), and the list drawn from them: HTML built here,
        # every string from the run escaped. Hidden until the first finding: a clean cell shows no list.
        self.findings_rows: dict[str, list[Any]] = _finding_columns([], 0.0)
        self.findings = Div(text="", visible=False, sizing_mode="stretch_width", name="live_findings")
        self.layout = column(
            self.status,
            self.banner,
            self.summary,
            self.findings,
            self.flame,
            row(self.timeline, self.rate_figure, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
            name="live_dashboard",
        )
        self._ticks = 0
        self._flame_samples = -1
        self._lanes = 0
        # Where the cell's own span starts (the run clock also covers the collectors' start before it).
        self._cell_start_s = 0.0

    def update(
        self,
        snapshot: LiveSnapshot,
        flame: FlameView | None = None,
        done: bool = False,
        findings: list[Finding] | None = None,
    ) -> None:
        """Apply one snapshot; `flame` is the live flame graph's layout and `findings` the findings so far
        (largest gain first), each only when it changed."""
        self._ticks += 1
        if done:
            self.status.tags = ["done"]  # read by STALE_JS: no more heartbeats will come
        self.status.text = _status_html(self.title, snapshot.status, snapshot.now_s, snapshot.cpu_samples)
        summary = _summary_html(snapshot)
        if summary != self.summary.text:  # every change is serialised and sent: skip the same text
            self.summary.text = summary
        if flame is not None:
            self._update_flame(flame)
        self._update_timeline(snapshot)
        self.rate.stream({"t_s": [snapshot.now_s], "tokens_per_s": [snapshot.tokens_per_s]}, RATE_ROLLOVER)
        if findings is not None:
            self._update_findings(findings, max(snapshot.now_s - self._cell_start_s, 0.0))

    @property
    def ticks(self) -> int:
        return self._ticks

    @property
    def done(self) -> bool:
        return bool(self.status.tags)

    def _update_flame(self, view: FlameView) -> None:
        data = source_data(view)
        fitted = fit_labels(data["x0"], data["x1"], data["y"], data["label"], view=(0.0, 1.0))
        self.flame_rects.data = dict(data)
        self.flame_labels.data = dict(fitted.columns())
        rows = view.max_depth + 1
        if self.flame.y_range.start != rows:
            self.flame.y_range.start = rows
        self.flame.title.text = (
            f"CPU flame graph (live, low-rate samples) · {view.total_ms / 1e3:,.1f} s sampled"
        )

    def _update_findings(self, findings: list[Finding], cell_s: float) -> None:
        self.findings_rows = _finding_columns(findings[:LIVE_FINDINGS], cell_s * 1000)
        text = _findings_html(self.findings_rows, len(findings)) if findings else ""
        if text != self.findings.text:
            self.findings.text = text
        if bool(findings) != self.findings.visible:
            self.findings.visible = bool(findings)

    def _update_timeline(self, snapshot: LiveSnapshot) -> None:
        for r in snapshot.open_spans:
            if r.kind == "cell" and r.lane == 0:
                self._cell_start_s = r.start_s
        if snapshot.closed_spans:
            self.spans.stream(_rows(snapshot.closed_spans), SPAN_ROLLOVER)
        if snapshot.open_spans or self.open_spans.data["span_id"]:
            self.open_spans.data = _rows(snapshot.open_spans) or _span_columns()
        if snapshot.tokens:
            self.tokens.stream(_rows(snapshot.tokens), TOKEN_ROLLOVER)
        lanes = max(
            [r.lane for r in snapshot.closed_spans + snapshot.open_spans] + [t.lane for t in snapshot.tokens],
            default=0,
        )
        if lanes + 1 > self._lanes:
            self._lanes = lanes + 1
            self.timeline.y_range.start = self._lanes - 0.5


def _rows(rows: list[SpanRow] | list[TokenRow]) -> dict[str, Any]:
    if not rows:
        return {}
    names = list(type(rows[0]).__dataclass_fields__)
    return {name: [getattr(r, name) for r in rows] for name in names}


def _finding_columns(findings: list[Finding], cell_ms: float) -> dict[str, list[Any]]:
    return {
        "kind": [f.kind for f in findings],
        "severity": [f.severity for f in findings],
        "color": [SEVERITY_COLORS.get(f.severity, "#6b6b6b") for f in findings],
        "title": [f.title for f in findings],
        "gain_ms": [f.gain_ms for f in findings],
        "gain": [_gain_so_far(f.gain_ms, cell_ms) for f in findings],
    }


def _gain_so_far(gain_ms: float, cell_ms: float) -> str:
    if gain_ms <= 0:
        return "no time estimate"
    share = f" ({gain_ms / cell_ms:.0%} of the cell so far)" if cell_ms > 0 else ""
    return f"~{gain_ms:,.0f} ms{share}"


def _findings_html(rows: dict[str, list[Any]], total: int) -> str:
    more = f" · {total - len(rows['kind'])} more" if total > len(rows["kind"]) else ""
    head = (
        f"<div><b>{total} finding{'s' if total != 1 else ''} so far</b>{more} "
        f'<span style="color: #666">· {html.escape(FINDINGS_NOTE)}</span></div>'
    )
    items = "".join(
        f'<div data-finding="{html.escape(kind, quote=True)}">'
        f'<b style="color: {color}">{html.escape(severity)}</b> {html.escape(title)} '
        f'<span style="color: #666">· {html.escape(gain)}</span></div>'
        for kind, severity, color, title, gain in zip(
            rows["kind"], rows["severity"], rows["color"], rows["title"], rows["gain"], strict=True
        )
    )
    return f'<div style="{FINDINGS_STYLE}">{head}{items}</div>'


def _span_columns() -> dict[str, Any]:
    return {name: [] for name in SpanRow.__dataclass_fields__}


def _empty_flame() -> dict[str, list[Any]]:
    return source_data(FlameView(rects=[], total_ms=0.0, min_width=0.0))


def _status_html(title: str, status: str, now_s: float, samples: int) -> str:
    # What changes every tick lives here, so the summary below changes (and is sent) only with the counts.
    name = f"<b>{html.escape(title)}</b> · " if title else ""
    state = (
        f"{name}live · {html.escape(status)} · elapsed <b>{now_s:,.1f} s</b> · "
        f'<span data-live="CPU samples">{samples:,}</span> CPU samples (live, low-rate)'
    )
    return f'<div style="font: 13px sans-serif; color: #555">{state}</div>'


def _summary_html(s: LiveSnapshot) -> str:
    ttft = "–" if s.ttft_p50_ms is None else f"{s.ttft_p50_ms:,.0f} ms"
    items = [
        ("tokens", f"{s.total_tokens:,}"),
        ("tokens/s", f"{s.tokens_per_s:,.1f}"),
        ("TTFT p50", ttft),
        ("requests", f"{s.requests:,}"),
    ]
    items += _counter_items(s.counters)
    cells = "".join(
        f'<span><span style="color: #666">{html.escape(k)}</span> '
        f'<b data-live="{html.escape(k, quote=True)}">{html.escape(v)}</b></span>'
        for k, v in items
    )
    return f'<div style="{SUMMARY_STYLE}">{cells}</div>'


def _counter_items(counters: dict[str, float]) -> list[tuple[str, str]]:
    """GPU telemetry by its names (GPU 0 util %, ...). The GIL probe's series are the gil_contention rule's
    evidence: alone they read high whenever the cell runs Python, contended or not."""
    items = []
    for series, value in sorted(counters.items()):
        parsed = split_series(series)
        if parsed is not None:
            source, device, metric = parsed
            label = f"{'GPU' if source == 'gpu' else 'CUDA'} {device} {metric}"
            items.append((label, _gpu_value(metric, value)))
    return items


def _gpu_value(metric: str, value: float) -> str:
    if metric.endswith("_bytes"):
        return f"{value / 2**30:,.2f} GiB"
    if metric.endswith("_bytes_s"):
        return f"{value / 1e6:,.1f} MB/s"
    return f"{value:,.3g}"


def _flame_figure(rects: ColumnDataSource, labels: ColumnDataSource) -> Any:
    fig = icicle_figure("CPU flame graph (live, low-rate samples)", 6, "live_flame", "share of sampled time")
    fig.height = FLAME_HEIGHT_PX
    quads = fig.quad(
        left="x0", right="x1", top="top", bottom="bottom", source=rects,
        fill_color="color", line_color="white", line_width=0.5,
    )  # fmt: skip
    fig.add_tools(HoverTool(renderers=[quads], tooltips=[("", "@function"), ("", "@total_pct{0.0}%")]))
    fig.text(
        x="x", y="y", text="text", source=labels, x_offset=3, text_baseline="middle", text_font_size="11px"
    )
    return fig


def _timeline_figure(spans: ColumnDataSource, open_spans: ColumnDataSource, tokens: ColumnDataSource) -> Any:
    fig = figure(
        title="Spans and token arrivals",
        height=TIMELINE_HEIGHT_PX,
        sizing_mode="stretch_width",
        x_range=DataRange1d(start=0.0, range_padding=0.02),
        y_range=Range1d(start=0.5, end=-0.5),
        tools="xpan,xwheel_zoom,reset",
        toolbar_location="above",
        name="live_timeline",
    )
    fig.toolbar.logo = None
    fig.yaxis.visible = False
    fig.xaxis.axis_label = "s since run start"
    bars = fig.hbar(y="lane", left="start_s", right="end_s", height=0.7, source=spans, fill_color="color",
                    line_color="white")  # fmt: skip
    fig.hbar(y="lane", left="start_s", right="end_s", height=0.7, source=open_spans, fill_color="color",
             fill_alpha=0.55, line_color="#888", line_dash="dashed")  # fmt: skip
    fig.scatter(x="t_s", y="lane", size=4, source=tokens, color=TOKEN_COLOR, marker="diamond")
    fig.add_tools(
        HoverTool(renderers=[bars], tooltips=[("", "@name (@kind)"), ("s", "@start_s{0.00}–@end_s{0.00}")])
    )
    return fig


def _rate_figure(rate: ColumnDataSource) -> Any:
    fig = figure(
        title=f"Tokens/s (last {RATE_SECONDS} s)",
        height=RATE_HEIGHT_PX,
        width=360,
        x_range=DataRange1d(follow="end", follow_interval=RATE_SECONDS, range_padding=0.0),
        tools="",
        toolbar_location=None,
        name="live_rate",
    )
    fig.line(x="t_s", y="tokens_per_s", source=rate, line_width=2, color="#fd8d3c")
    fig.xaxis.axis_label = "s since run start"
    return fig
