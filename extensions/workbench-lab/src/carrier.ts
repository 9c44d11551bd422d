/**
 * The BokehJS carrier of a dashboard output (workbench/render/bokehjs.py): the notebook holds one, in its
 * first dashboard output, for the pages without this extension (nbconvert HTML) that read it there.
 */
// workbench.render.bokehjs.CARRIER_CLASS, as carrier_html writes it.
const CARRIER = /<script type="application\/gzip;base64" class="fmwb-bokehjs"[^>]*>[^<]*<\/script>/;

/**
 * `html` with the BokehJS carrier of `previous` (the output it replaces) when it has none: the notebook
 * keeps its one copy, for the pages that read it there (nbconvert HTML).
 */
export function keepCarrier(previous: string, html: string): string {
  const carrier = previous.match(CARRIER);
  if (carrier === null || CARRIER.test(html)) {
    return html;
  }
  const box = html.indexOf('class="fm-workbench-output"');
  const open = box < 0 ? -1 : html.indexOf('>', box);
  return open < 0 ? html : html.slice(0, open + 1) + carrier[0] + html.slice(open + 1);
}
