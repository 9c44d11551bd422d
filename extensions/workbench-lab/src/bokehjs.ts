/**
 * BokehJS for the page, fetched once from the server extension (`GET fmprofile/api/bokehjs`).
 *
 * The dashboards in notebook outputs are frames that hold no BokehJS (workbench/render/bokehjs.py): their
 * loader takes it from `window.fmWorkbench.bokehjs`, so every output renders, the notebook's first one
 * cleared or not. And jupyter_bokeh's live widget finds `window.Bokeh` after a reload or in a second tab,
 * where the kernel, which sends BokehJS once, does not send it again.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export interface IServedBokehJS {
  version: string;
  source: string;
}

interface IWorkbenchGlobal {
  bokehjs?: Promise<IServedBokehJS | null>;
}

type PageWindow = Window & { fmWorkbench?: IWorkbenchGlobal; Bokeh?: unknown };

/** Where a loaded BokehJS of another version is already in the page, it is left alone. */
export function provideBokehJS(page: PageWindow = window as PageWindow): Promise<IServedBokehJS | null> {
  const existing = page.fmWorkbench?.bokehjs;
  if (existing) {
    return existing;
  }
  const promise = fetchBokehJS()
    .then(served => {
      if (served !== null && page.Bokeh === undefined) {
        installScript(page.document, served.source);
      }
      return served;
    })
    .catch(() => null);
  page.fmWorkbench = { ...(page.fmWorkbench ?? {}), bokehjs: promise };
  return promise;
}

async function fetchBokehJS(): Promise<IServedBokehJS | null> {
  const settings = ServerConnection.makeSettings();
  const response = await ServerConnection.makeRequest(
    URLExt.join(settings.baseUrl, 'fmprofile/api/bokehjs'),
    {},
    settings
  );
  const version = response.headers.get('X-BokehJS-Version');
  if (!response.ok || !version) {
    return null;
  }
  return { version, source: await response.text() };
}

export function installScript(document: Document, source: string): void {
  const script = document.createElement('script');
  script.textContent = source;
  document.head.appendChild(script);
}

/** At most `ms` of waiting (the app's start must not hang on a slow server). */
export function withTimeout<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  return Promise.race([promise, new Promise<T>(resolve => setTimeout(() => resolve(fallback), ms))]);
}
