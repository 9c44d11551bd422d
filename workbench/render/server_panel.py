"""The Server panel: scraped server metrics on the run clock, under the request waterfall.

Three tracks per server, on the x range every run-clock chart shares: requests running against waiting,
KV-cache usage, and the server's token rates (prompt and generation tokens/s). The hover of each line
names the raw metric it was read from (`vllm:num_requests_waiting`, `sglang:token_usage`, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bokeh.layouts import column
from bokeh.models import HoverTool, Range1d
from bokeh.plotting import figure

from workbench.analysis.server import server_series
from workbench.model.run import Run
from workbench.render.layout_parts import data_source, place_legend_above
from workbench.render.timeline_plot import style_run_clock_axis

TRACK_PX = 160
# (title, [(metric, label, colour)], unit scale)
TRACKS: tuple[tuple[str, tuple[tuple[str, str, str], ...], float], ...] = (
    (
        "requests running vs waiting",
        (("requests_running", "running", "#2ca02c"), ("requests_waiting", "waiting", "#d62728")),
        1.0,
    ),
    ("KV-cache usage %", (("kv_cache_usage", "KV cache used", "#9467bd"),), 100.0),
    (
        "server token rate (tokens/s)",
        (
            ("generation_tokens_per_s", "generation tokens/s", "#1f77b4"),
            ("prompt_tokens_per_s", "prompt tokens/s", "#ff7f0e"),
        ),
        1.0,
    ),
)


@dataclass(frozen=True)
class ServerLine:
    series: str
    label: str
    raw: str
    color: str
    t_ms: list[float]
    values: list[float]


@dataclass(frozen=True)
class ServerTrack:
    server: str
    title: str
    lines: list[ServerLine]


@dataclass(frozen=True)
class ServerPanelView:
    tracks: list[ServerTrack]

    @property
    def empty(self) -> bool:
        return not self.tracks

    @classmethod
    def from_run(cls, run: Run) -> ServerPanelView:
        found = server_series(run.recording)
        known = ((run.metrics.get("server") or {}).get("series")) or {}
        names = {name: str(about.get("raw") or name) for name, about in known.items()}
        servers = sorted({name.partition(".")[0] for name in found})
        tracks = []
        for server in servers:
            for title, metrics, scale in TRACKS:
                lines = [
                    ServerLine(
                        series=f"{server}.{metric}",
                        label=label,
                        raw=names.get(f"{server}.{metric}", f"{server}.{metric}"),
                        color=color,
                        t_ms=[t / 1e6 for t in found[f"{server}.{metric}"][0]],
                        values=[v * scale for v in found[f"{server}.{metric}"][1]],
                    )
                    for metric, label, color in metrics
                    if f"{server}.{metric}" in found
                ]
                if lines:
                    tracks.append(ServerTrack(server, title, lines))
        return cls(tracks)


class ServerPanelRenderer:
    def __init__(self, x_range: Range1d | None = None) -> None:
        self.x_range = x_range

    def render(self, run: Run) -> Any | None:
        view = ServerPanelView.from_run(run)
        if view.empty:
            return None
        return column(
            *[self._track(t) for t in view.tracks], sizing_mode="stretch_width", name="server_panel"
        )

    def _track(self, track: ServerTrack) -> Any:
        fig = figure(
            title=f"Server {track.server} · {track.title}",
            height=TRACK_PX,
            sizing_mode="stretch_width",
            x_range=self.x_range if self.x_range is not None else Range1d(start=0, end=1),
            tools="xpan,xwheel_zoom,box_zoom,reset,save",
            toolbar_location="above",
            name=f"server_track_{track.server}_{track.lines[0].series.partition('.')[2]}",
        )
        style_run_clock_axis(fig)
        for line in track.lines:
            source = data_source(
                {"t_ms": line.t_ms, "value": line.values, "raw": [line.raw] * len(line.t_ms)},
                name=f"server_series_{line.series}",
            )
            drawn = fig.step(
                "t_ms",
                "value",
                source=source,
                mode="after",
                color=line.color,
                line_width=1.8,
                legend_label=line.label,
            )
            tooltips = [("metric", "@raw"), ("t", "@t_ms{0,0.0} ms"), ("value", "@value{0,0.00}")]
            fig.add_tools(HoverTool(renderers=[drawn], tooltips=tooltips, mode="vline"))
        place_legend_above(fig)
        return fig
