"""The two outputs: a standalone HTML report, and a notebook display bundle that renders with no kernel.

Both carry BokehJS inline, so they render with no network. The notebook bundle isolates the report in an
iframe (srcdoc): ipywidgets and BokehModel outputs do not render in nbconvert HTML opened offline, and the
iframe keeps Bokeh's page-level JavaScript and CSS away from JupyterLab's.
"""

from __future__ import annotations

import html

from bokeh.embed import file_html
from bokeh.resources import INLINE

from workbench.model.run import Run
from workbench.render.dashboard import DashboardRenderer
from workbench.render.static_picture import HIDE_WHEN_TRUSTED, static_picture
from workbench.render.summary import summary_line, summary_text

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


# The magic shows the page when the cell ends; report.html written later in this process from the same
# run (`ensure_artifact`, `workbench.session.write_artifacts`) reuses it: keep the last one rendered (one
# entry, so no run is held on to) instead of drawing the dashboard twice.
_last_report: tuple[tuple[int, str, int, int], tuple[str, int]] | None = None


def _report(run: Run) -> tuple[str, int]:
    """The page and the height it needs, in CSS pixels."""
    global _last_report
    key = (id(run), run.id, run.duration_ns, len(run.annotations))
    if _last_report is not None and _last_report[0] == key:
        return _last_report[1]
    rendered = _render_report(run)
    _last_report = (key, rendered)
    return rendered


def _render_report(run: Run) -> tuple[str, int]:
    dashboard = DashboardRenderer().render(run)
    text = summary_text(run)
    page = file_html(
        dashboard.layout,
        resources=INLINE,
        title=page_title(run),
        template=TEMPLATE,
        template_variables={"summary_html": html.escape(text)},
    )
    pre_px = SUMMARY_LINE_PX * (text.count("\n") + 1) + 40
    return page, dashboard.height_px + pre_px + BODY_PADDING_PX


def notebook_bundle(run: Run) -> dict[str, str]:
    page, height = _report(run)
    line = html.escape(summary_line(run))
    title = html.escape(page_title(run), quote=True)
    frame = (
        f'<iframe srcdoc="{html.escape(page, quote=True)}" title="{title}" '
        f'style="width: 100%; height: {height}px; border: 1px solid #ddd; border-radius: 4px" '
        'sandbox="allow-scripts allow-downloads" loading="eager"></iframe>'
    )
    text = summary_text(run)
    # Where the notebook is not trusted, the frame is removed and the static picture shows instead.
    markup = (
        f'<div class="fm-workbench-output">{HIDE_WHEN_TRUSTED}'
        f'<div style="font: 13px sans-serif; margin: 4px 0">{line}</div>{frame}'
        f"{static_picture(run, text)}</div>"
    )
    return {"text/html": markup, "text/plain": text}
