/**
 * Calls to the server extension (`/fmprofile/api/...`) through JupyterLab's ServerConnection, which adds
 * the token and XSRF headers, so nothing here handles credentials.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IRunList } from './model';

const API = 'fmprofile/api';

export class ApiError extends Error {}

function url(settings: ServerConnection.ISettings, endpoint: string, params: Record<string, string>): string {
  const query = URLExt.objectToQueryString(params);
  return URLExt.join(settings.baseUrl, API, endpoint) + query;
}

async function request(endpoint: string, params: Record<string, string>, init: RequestInit = {}): Promise<Response> {
  const settings = ServerConnection.makeSettings();
  const response = await ServerConnection.makeRequest(url(settings, endpoint, params), init, settings);
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      message = body.message ?? message;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(message);
  }
  return response;
}

export async function listRuns(folder: string): Promise<IRunList> {
  return (await request('runs', { path: folder })).json();
}

/** A note on the whole run, or on `range` (ns on the run clock). */
export async function addNote(folder: string, id: string, text: string, range?: [number, number]): Promise<void> {
  const where = range ? { t_ns: Math.round(range[0]), end_ns: Math.round(range[1]) } : {};
  await request(`runs/${encodeURIComponent(id)}/notes`, { path: folder }, {
    method: 'POST',
    body: JSON.stringify({ text, ...where })
  });
}

export async function deleteRun(folder: string, id: string): Promise<void> {
  await request(`runs/${encodeURIComponent(id)}`, { path: folder }, { method: 'DELETE' });
}

/**
 * URL of a page (a run's report, a comparison) for an iframe. The browser sends the login cookie with it;
 * a token-only session (no cookie) gets the token in the query, as JupyterLab does for its own files.
 */
export function pageUrl(endpoint: string, params: Record<string, string>): string {
  const settings = ServerConnection.makeSettings();
  const withToken = settings.token ? { ...params, token: settings.token } : params;
  return url(settings, endpoint, withToken);
}

export function reportUrl(folder: string, id: string): string {
  return pageUrl(`runs/${encodeURIComponent(id)}/report`, { path: folder });
}

export function compareUrl(folder: string, a: string, b: string): string {
  return pageUrl('compare', { path: folder, a, b });
}
