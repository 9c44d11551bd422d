"""The live dashboard: Bokeh models that a `LiveSnapshot` updates in place while the cell runs.

Only increments travel: spans, token arrivals and rate points are streamed with a rollover; the flame
graph's (small, level-of-detail) layout is replaced only when a sample was added. The page notices by
itself when updates stop arriving (a C call holding the GIL stops every Python thread): see `STALE_JS`.

It reads as the final dashboard does: times in ms since the run started (the snapshot's seconds are
converted here), flame rows of a fixed height (the chart grows with the stack's depth up to a cap, then
shows the top rows and pans down), and span bars labelled with their names, clipped to the bar.
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
from workbench.render.flame_plot import CHROME_PX, icicle_figure, source_data
from workbench.render.flame_view import FlameView
from workbench.render.labels import ASSUMED_WIDTH_PX, fit_labels
from workbench.render.layout_parts import data_source
from workbench.render.live.snapshot import LiveSnapshot, SpanRow, TokenRow
from workbench.render.palette import TOKEN_COLOR

SPAN_ROLLOVER = 2_000
TOKEN_ROLLOVER = 5_000
RATE_ROLLOVER = 600
RATE_SECONDS = 30
STALE_AFTER_MS = 1_500
MS_PER_S = 1000.0
# A flame row is this tall at any depth; the chart grows with the depth up to FLAME_MAX_ROWS rows, then
# shows the top rows (pan down for the rest).
FLAME_ROW_PX = 18
FLAME_MIN_ROWS = 6
FLAME_MAX_ROWS = 24
# A timeline lane likewise, up to TIMELINE_MAX_LANES lanes.
LANE_PX = 26
TIMELINE_CHROME_PX = 110
TIMELINE_MIN_LANES = 3
TIMELINE_MAX_LANES = 16
# Within a lane (its centre 0, its bottom +0.5): a span's label above the centre, token dots below it.
LABEL_DY = -0.12
TOKEN_DY = 0.2
RATE_HEIGHT_PX = 180
RATE_WIDTH_PX = 360
# The timeline's width the Python-side label fit assumes: the live row less the tokens/s chart.
TIMELINE_WIDTH_PX = ASSUMED_WIDTH_PX - RATE_WIDTH_PX
TIME_AXIS_LABEL = "ms since run start"  # as on the final dashboard's run-clock charts
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
        self.span_labels = data_source({"x": [], "y": [], "text": []}, name="live_span_labels")
        self.tokens = data_source({"t_ms": [], "y": [], "lane": [], "n_tokens": []}, name="live_tokens")
        self.timeline = _timeline_figure(self.spans, self.open_spans, self.span_labels, self.tokens)
        self.rate = data_source({"t_ms": [], "tokens_per_s": []}, name="live_rate")
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
        self.rate.stream(
            {"t_ms": [snapshot.now_s * MS_PER_S], "tokens_per_s": [snapshot.tokens_per_s]}, RATE_ROLLOVER
        )
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
        shown = min(max(rows, FLAME_MIN_ROWS), FLAME_MAX_ROWS)
        if self.flame.height != flame_height(rows):
            self.flame.height = flame_height(rows)
        if self.flame.y_range.start != shown or self.flame.y_range.bounds != (0, max(rows, shown)):
            # Rows 0 (the root) at the top: the top `shown` rows; the rest is a pan away.
            self.flame.y_range.update(start=shown, end=0, bounds=(0, max(rows, shown)))
        deeper = f" · top {shown} of {rows} levels (drag down for the rest)" if rows > shown else ""
        self.flame.title.text = (
            f"CPU flame graph (live, low-rate samples) · {view.total_ms / 1e3:,.1f} s sampled{deeper}"
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
        changed = bool(snapshot.closed_spans or snapshot.open_spans or self.open_spans.data["span_id"])
        if snapshot.closed_spans:
            self.spans.stream(_span_rows(snapshot.closed_spans), SPAN_ROLLOVER)
        if snapshot.open_spans or self.open_spans.data["span_id"]:
            self.open_spans.data = _span_rows(snapshot.open_spans) or _span_columns()
        if snapshot.tokens:
            self.tokens.stream(_token_rows(snapshot.tokens), TOKEN_ROLLOVER)
        if changed:
            self._update_span_labels(snapshot.now_s * MS_PER_S)
        lanes = max(
            [r.lane for r in snapshot.closed_spans + snapshot.open_spans] + [t.lane for t in snapshot.tokens],
            default=0,
        )
        if lanes + 1 > self._lanes:
            self._lanes = lanes + 1
            shown = min(max(self._lanes, TIMELINE_MIN_LANES), TIMELINE_MAX_LANES)
            self.timeline.height = timeline_height(self._lanes)
            self.timeline.y_range.update(start=shown - 0.5, bounds=(-0.5, max(self._lanes, shown) - 0.5))

    def _update_span_labels(self, now_ms: float) -> None:
        """Each bar's name inside it, clipped to the bar's width, for the view from 0 to now (the timeline's
        range follows the data); sent only when a label changed."""
        bars: list[dict[str, Any]] = [dict(self.spans.data), dict(self.open_spans.data)]
        x0: list[float] = [float(x) for d in bars for x in d["start_ms"]]
        x1: list[float] = [float(x) for d in bars for x in d["end_ms"]]
        y: list[float] = [float(lane) + LABEL_DY for d in bars for lane in d["lane"]]
        names: list[str] = [str(n) for d in bars for n in d["name"]]
        fitted = fit_labels(x0, x1, y, names, view=(0.0, max(now_ms, 1e-3)), width_px=TIMELINE_WIDTH_PX)
        if (fitted.x, fitted.y, fitted.text) != tuple(
            list(self.span_labels.data[k]) for k in ("x", "y", "text")
        ):
            self.span_labels.data = dict(fitted.columns())


def flame_height(rows: int) -> int:
    """The live flame graph's height for a stack `rows` deep: FLAME_ROW_PX a row shown."""
    return min(max(rows, FLAME_MIN_ROWS), FLAME_MAX_ROWS) * FLAME_ROW_PX + CHROME_PX


def timeline_height(lanes: int) -> int:
    return min(max(lanes, TIMELINE_MIN_LANES), TIMELINE_MAX_LANES) * LANE_PX + TIMELINE_CHROME_PX


def _span_rows(rows: list[SpanRow]) -> dict[str, Any]:
    """Span rows as columns, times in ms."""
    if not rows:
        return {}
    return {
        "span_id": [r.span_id for r in rows],
        "name": [r.name for r in rows],
        "kind": [r.kind for r in rows],
        "lane": [r.lane for r in rows],
        "start_ms": [r.start_s * MS_PER_S for r in rows],
        "end_ms": [r.end_s * MS_PER_S for r in rows],
        "color": [r.color for r in rows],
    }


def _token_rows(rows: list[TokenRow]) -> dict[str, Any]:
    """Token arrivals as columns, times in ms, each dot below its lane's centre (under the span labels)."""
    return {
        "t_ms": [r.t_s * MS_PER_S for r in rows],
        "y": [r.lane + TOKEN_DY for r in rows],
        "lane": [r.lane for r in rows],
        "n_tokens": [r.n_tokens for r in rows],
    }


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
    return {name: [] for name in ("span_id", "name", "kind", "lane", "start_ms", "end_ms", "color")}


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
    fig = icicle_figure(
        "CPU flame graph (live, low-rate samples)", FLAME_MIN_ROWS, "live_flame", "share of sampled time"
    )
    fig.height = flame_height(FLAME_MIN_ROWS)
    fig.y_range.bounds = (0, FLAME_MIN_ROWS)
    fig.add_tools("ypan")
    quads = fig.quad(
        left="x0", right="x1", top="top", bottom="bottom", source=rects,
        fill_color="color", line_color="white", line_width=0.5,
    )  # fmt: skip
    fig.add_tools(HoverTool(renderers=[quads], tooltips=[("", "@function"), ("", "@total_pct{0.0}%")]))
    fig.text(
        x="x", y="y", text="text", source=labels, x_offset=3, text_baseline="middle", text_font_size="11px"
    )
    return fig


def _timeline_figure(
    spans: ColumnDataSource, open_spans: ColumnDataSource, labels: ColumnDataSource, tokens: ColumnDataSource
) -> Any:
    fig = figure(
        title="Spans and token arrivals",
        height=timeline_height(1),
        sizing_mode="stretch_width",
        min_width=320,
        x_range=DataRange1d(start=0.0, range_padding=0.02),
        y_range=Range1d(start=TIMELINE_MIN_LANES - 0.5, end=-0.5, bounds=(-0.5, TIMELINE_MIN_LANES - 0.5)),
        tools="xpan,xwheel_zoom,ypan,reset",
        toolbar_location="above",
        name="live_timeline",
    )
    fig.toolbar.logo = None
    fig.yaxis.visible = False
    fig.xaxis.axis_label = TIME_AXIS_LABEL
    bars = fig.hbar(y="lane", left="start_ms", right="end_ms", height=0.7, source=spans, fill_color="color",
                    line_color="white")  # fmt: skip
    fig.hbar(y="lane", left="start_ms", right="end_ms", height=0.7, source=open_spans, fill_color="color",
             fill_alpha=0.55, line_color="#888", line_dash="dashed")  # fmt: skip
    fig.text(x="x", y="y", text="text", source=labels, x_offset=3, text_baseline="middle",
             text_font_size="11px", text_color="#111", name="live_span_label_glyphs")  # fmt: skip
    fig.scatter(x="t_ms", y="y", size=4, source=tokens, color=TOKEN_COLOR, marker="diamond")
    tooltips = [("", "@name (@kind)"), ("ms", "@start_ms{0,0.0}–@end_ms{0,0.0}")]
    fig.add_tools(HoverTool(renderers=[bars], tooltips=tooltips))
    return fig


def _rate_figure(rate: ColumnDataSource) -> Any:
    fig = figure(
        title=f"Tokens/s (last {RATE_SECONDS} s)",
        height=RATE_HEIGHT_PX,
        width=RATE_WIDTH_PX,
        x_range=DataRange1d(follow="end", follow_interval=RATE_SECONDS * MS_PER_S, range_padding=0.0),
        tools="",
        toolbar_location=None,
        name="live_rate",
    )
    fig.line(x="t_ms", y="tokens_per_s", source=rate, line_width=2, color="#fd8d3c")
    fig.xaxis.axis_label = TIME_AXIS_LABEL
    return fig
