"""The two outputs: a standalone HTML report, and a notebook display bundle that renders with no kernel.

The report carries BokehJS inline, so it renders with no network. The notebook bundle isolates the
dashboard in an iframe (srcdoc): ipywidgets and BokehModel outputs do not render in nbconvert HTML opened
offline, and the frame keeps Bokeh's page-level JavaScript and CSS away from JupyterLab's. The frame holds
no BokehJS: it takes the page's (`workbench.render.bokehjs`), so a notebook carries it once.
"""

from __future__ import annotations

import html

from bokeh.embed import file_html, json_item
from bokeh.resources import INLINE

from workbench.model.run import Run
from workbench.render.bokehjs import NO_BOKEH_CLASS, carrier_html, doc_html, loader_js
from workbench.render.dashboard import Dashboard, DashboardRenderer
from workbench.render.static_picture import HIDE_WHEN_TRUSTED, static_picture
from workbench.render.summary import summary_text

SUMMARY_LINE_PX = 18
BODY_PADDING_PX = 12

# Bokeh's FILE template extended: the plain-text summary after the dashboard, readable (and searchable)
# in the page itself rather than only inside Bokeh's canvas.
TEMPLATE = """
{% block postamble %}
<style>
  body { padding: 6px 12px; box-sizing: border-box; }
  pre.wb-summary { font: 12px/1.5 ui-monospace, monospace; color: #222; background: #f7f7f7;
                   padding: 8px 12px; margin: 12px 0 0 0; white-space: pre-wrap; }
</style>
{% endblock %}
{% block contents %}
{{ super() }}
<pre class="wb-summary">{{ summary_html }}</pre>
{% endblock %}
"""


def page_title(run: Run) -> str:
    return f"FM Workbench — {run.name}"


def report_html(run: Run) -> str:
    return _report(run)[0]


# The magic shows the dashboard when the cell ends; report.html written later in this process from the same
# run (`ensure_artifact`, `workbench.session.write_artifacts`) reuses it: keep the last one drawn (one
# entry, so no run is held on to) instead of drawing the dashboard twice.
_last_dashboard: tuple[tuple[int, str, int, int], tuple[Dashboard, str]] | None = None


def _dashboard(run: Run) -> tuple[Dashboard, str]:
    """The dashboard and the plain-text summary."""
    global _last_dashboard
    key = (id(run), run.id, run.duration_ns, len(run.annotations))
    if _last_dashboard is not None and _last_dashboard[0] == key:
        return _last_dashboard[1]
    drawn = (DashboardRenderer().render(run), summary_text(run))
    _last_dashboard = (key, drawn)
    return drawn


def _report(run: Run) -> tuple[str, int]:
    """The page and the height it needs, in CSS pixels."""
    dashboard, text = _dashboard(run)
    page = file_html(
        dashboard.layout,
        resources=INLINE,
        title=page_title(run),
        template=TEMPLATE,
        template_variables={"summary_html": html.escape(text)},
    )
    return page, _height(dashboard, text)


def _height(dashboard: Dashboard, text: str) -> int:
    pre_px = SUMMARY_LINE_PX * (text.count("\n") + 1) + 40
    return dashboard.height_px + pre_px + BODY_PADDING_PX


# The frame's height computed above is a first guess: what wraps at the output's width (table rows, the
# plain-text summary, long titles) is known only in the page. The frame then takes its content's height, so
# nothing is cut at its bottom, and follows it when the output area is resized.
FIT_FRAME_JS = """
(function () {
  var frame = window.frameElement;
  if (!frame || typeof ResizeObserver === "undefined") { return; }
  function fit() {
    var height = Math.ceil(document.body.getBoundingClientRect().height);
    if (height > 0 && Math.abs(frame.clientHeight - height) > 1) { frame.style.height = height + "px"; }
  }
  new ResizeObserver(fit).observe(document.body);
})();
"""

# The frame's page: the loader draws the document beside the frame into #wb-root.
FRAME_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
  html, body {{ margin: 0; }}
  body {{ padding: 6px 12px; box-sizing: border-box; font-family: sans-serif; }}
  pre.wb-summary {{ font: 12px/1.5 ui-monospace, monospace; color: #222; background: #f7f7f7;
                   padding: 8px 12px; margin: 12px 0 0 0; white-space: pre-wrap; overflow-wrap: anywhere; }}
</style></head>
<body><div id="wb-root"></div><pre class="wb-summary">{summary}</pre>
<script>{fit}</script><script>{loader}</script></body></html>
"""


def notebook_bundle(run: Run, carry_bokehjs: bool = True) -> dict[str, str]:
    """The display bundle. `carry_bokehjs`: put BokehJS in this output for pages without FM Workbench's
    JupyterLab extension (nbconvert HTML); a notebook needs it in its first dashboard output only."""
    dashboard, text = _dashboard(run)
    title = html.escape(page_title(run), quote=True)
    page = FRAME_PAGE.format(title=title, summary=html.escape(text), fit=FIT_FRAME_JS, loader=loader_js())
    # allow-same-origin: the loader reads BokehJS and the document from the page around the frame.
    frame = (
        f'<iframe srcdoc="{html.escape(page, quote=True)}" title="{title}" '
        f'style="width: 100%; height: {_height(dashboard, text)}px; border: 1px solid #ddd; '
        'border-radius: 4px" sandbox="allow-scripts allow-same-origin allow-downloads" '
        'loading="eager"></iframe>'
    )
    carrier = carrier_html() if carry_bokehjs else ""
    # Where the notebook is not trusted, the scripts and the frame are removed and the static picture shows
    # instead; where BokehJS is not found, the loader shows it with the line saying why. The summary line is
    # the dashboard's header (and the static picture's summary): not repeated above the frame.
    markup = (
        f'<div class="fm-workbench-output">{HIDE_WHEN_TRUSTED}{carrier}'
        f"{doc_html(json_item(dashboard.layout))}{frame}"
        f'<div class="{NO_BOKEH_CLASS}" style="display: none; color: #555; font: 12px sans-serif; '
        'margin: 4px 0"></div>'
        f"{static_picture(run, text)}</div>"
    )
    return {"text/html": markup, "text/plain": text}
