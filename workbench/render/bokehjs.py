"""BokehJS once per notebook view, not once per output.

A dashboard output is a sandboxed same-origin frame whose page holds no BokehJS: a small loader finds it in
the page around the frame and evaluates it in the frame, then draws the document that sits beside the frame
(gzip, base64). BokehJS comes from, in this order:

1. FM Workbench's JupyterLab extension (JupyterLab, Notebook 7): it fetches the script of the kernel's
   Bokeh version from the server extension once per page (`window.fmWorkbench.bokehjs`), so every output
   renders whatever was cleared, and the live widget finds `window.Bokeh` after a reload or in a second tab;
2. the carrier: the script, gzipped and base64-encoded, in the notebook's first dashboard output (the first
   of each kernel, and again when that cell runs again), for pages without the extension such as
   `jupyter nbconvert --to html` opened offline.

Where neither is found (the first output cleared, no extension) the output shows its static picture with a
line saying how to get the interactive dashboard back.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
from collections.abc import Mapping
from typing import Any

import bokeh
from bokeh.resources import Component, Resources

VERSION: str = bokeh.__version__
# What the dashboards and the live view use (no WebGL, no MathJax: 1.95 MB of the 4 MB inline bundle).
COMPONENTS: list[Component] = ["bokeh", "bokeh-widgets", "bokeh-tables"]
CARRIER_CLASS = "fmwb-bokehjs"
DOC_CLASS = "fmwb-doc"
NO_BOKEH_CLASS = "fmwb-no-bokeh"
# How long a frame waits for BokehJS (a carrier in a page still loading) before it shows the static picture.
# In a loaded page it does not wait; the extension's fetch it awaits.
WAIT_MS = 15000


@functools.cache
def bokehjs_source() -> str:
    """The BokehJS of this Bokeh, the components the dashboards use, as one script."""
    resources = Resources(mode="inline", components=COMPONENTS)
    return "\n".join(resources.js_raw)


@functools.cache
def _carrier_payload() -> str:
    return packed(bokehjs_source())


def packed(text: str) -> str:
    """gzip then base64: a fifth of the text, and nothing in it that HTML or a script could read."""
    return base64.b64encode(gzip.compress(text.encode("utf-8"), 6, mtime=0)).decode("ascii")


def carrier_html() -> str:
    """The script for the page around the frames (about 0.7 MB), inert until a frame's loader reads it."""
    return (
        f'<script type="application/gzip;base64" class="{CARRIER_CLASS}" data-version="{VERSION}">'
        f"{_carrier_payload()}</script>"
    )


def doc_html(item: Mapping[str, Any]) -> str:
    """The Bokeh document of one output (`bokeh.embed.json_item`), beside its frame."""
    data = json.dumps(item, separators=(",", ":"))
    return f'<script type="application/gzip;base64" class="{DOC_CLASS}">{packed(data)}</script>'


# Runs inside the frame (sandbox allow-scripts allow-same-origin). `frameElement` is the output's frame;
# its output box holds the document, the static picture and the line shown when BokehJS is not found.
LOADER_JS = """
(function () {
  var V = "%(version)s", WAIT_MS = %(wait_ms)d;
  var frame = window.frameElement, box = frame && frame.closest(".fm-workbench-output");
  var P = window.parent;
  function showStatic(reason) {
    if (!box) { document.body.textContent = reason; return; }
    var picture = box.querySelector(".wb-static");
    if (picture) { picture.style.setProperty("display", "block", "important"); }
    var line = box.querySelector(".%(no_bokeh)s");
    if (line) { line.textContent = reason; line.style.display = "block"; }
    frame.style.display = "none";
  }
  async function unpack(b64) {
    var bytes = Uint8Array.from(atob(b64.trim()), function (c) { return c.charCodeAt(0); });
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return await new Response(stream).text();
  }
  function fromPage() {
    // One decompression per page, shared by the page's frames.
    if (P.__fmwbCarried && P.__fmwbCarried[V]) { return P.__fmwbCarried[V]; }
    var carrier = P.document.querySelector("script.%(carrier)s[data-version='" + V + "']");
    if (!carrier) { return null; }
    P.__fmwbCarried = P.__fmwbCarried || {};
    P.__fmwbCarried[V] = unpack(carrier.textContent);
    return P.__fmwbCarried[V];
  }
  async function findBokehJS() {
    var start = Date.now();
    for (;;) {
      var ext = P.fmWorkbench && P.fmWorkbench.bokehjs;
      if (ext) {
        var served = await ext;
        if (served && served.version === V) { return served.source; }
      }
      var carried = fromPage();
      if (carried) { return await carried; }
      // The extension answered without it, or there is none and the page has no carrier.
      if (P.document.readyState === "complete" || Date.now() - start > WAIT_MS) { return null; }
      await new Promise(function (resolve) { setTimeout(resolve, 100); });
    }
  }
  async function main() {
    var docScript = box && box.querySelector("script.%(doc)s");
    if (!docScript) { showStatic("This dashboard's document is missing from the output."); return; }
    var source = null;
    try { source = await findBokehJS(); } catch (error) { source = null; }
    if (source === null) {
      showStatic("Static view: the interactive dashboard needs BokehJS, which this page lacks (it comes "
        + "with FM Workbench's JupyterLab extension, or with the notebook's first dashboard output, cleared "
        + "here). Run this cell again, or open the run's report.html.");
      return;
    }
    var script = document.createElement("script");
    script.textContent = source;
    document.head.appendChild(script);
    var item = JSON.parse(await unpack(docScript.textContent));
    await window.Bokeh.embed.embed_item(item, "wb-root");
  }
  main().catch(function (error) {
    showStatic("Static view: the interactive dashboard failed to draw (" + error + ").");
  });
})();
"""


def loader_js() -> str:
    return LOADER_JS % {
        "version": VERSION,
        "wait_ms": WAIT_MS,
        "no_bokeh": NO_BOKEH_CLASS,
        "carrier": CARRIER_CLASS,
        "doc": DOC_CLASS,
    }
