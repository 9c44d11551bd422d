// The Runs sidebar around the run-list model, with JupyterLab's testing tools: a Lumino widget attached to
// jsdom, shown and hidden through the message loop; real JupyterLab dialogs answered with
// @jupyterlab/testing's helpers. The server API is a Jest mock. `npm test` (Jest).
import { dangerDialog, simulate, waitForDialog } from '@jupyterlab/testing';
import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import * as api from '../src/api';
import { IRunList, IRunRow } from '../src/model';
import { RunsPanel } from '../src/sidebar';

jest.mock('../src/api', () => ({
  listRuns: jest.fn(),
  addNote: jest.fn(),
  deleteRun: jest.fn(),
  reportUrl: jest.fn((folder: string, id: string) => `report:${folder}:${id}`),
  compareUrl: jest.fn((folder: string, a: string, b: string) => `compare:${folder}:${a}:${b}`)
}));

const listRuns = api.listRuns as jest.MockedFunction<typeof api.listRuns>;
const addNote = api.addNote as jest.MockedFunction<typeof api.addNote>;
const deleteRun = api.deleteRun as jest.MockedFunction<typeof api.deleteRun>;

function row(id: string, name: string | null, extra: Partial<IRunRow> = {}): IRunRow {
  return {
    id, name, created: '2026-11-21T10:00:00', wall_s: 1.5, output_tokens: 10, output_tokens_per_s: 123.4,
    ttft_ms_p50: 8.25, status: 'ok', status_detail: null, error: null, parent: null, notes: 0, has_report: true, ...extra
  };
}

function list(version: number, runs: IRunRow[], store = 'nb/.fmprofile'): IRunList {
  return { store, version, runs };
}

const THREE = list(1, [row('c', 'rag-v2'), row('b', 'rag-v1'), row('a', 'base')]);

describe('RunsPanel', () => {
  let folder: string;
  let openPage: jest.Mock;
  let panel: RunsPanel;

  const q = <T extends HTMLElement>(selector: string): T => panel.node.querySelector(selector) as T;
  const ids = () => Array.from(panel.node.querySelectorAll<HTMLElement>('.fmp-RunRow')).map(r => r.dataset.runId);
  const status = () => q('.fmp-RunsPanel-status').textContent;
  const checkbox = (id: string) => q<HTMLInputElement>(`.fmp-RunRow[data-run-id="${id}"] input[type="checkbox"]`);

  beforeEach(() => {
    jest.clearAllMocks();
    folder = 'nb';
    openPage = jest.fn();
    listRuns.mockResolvedValue(THREE);
    panel = new RunsPanel({ folder: () => folder, openPage });
    panel.hide(); // as in a side panel that is not the current tab
    Widget.attach(panel, document.body);
  });

  afterEach(() => {
    jest.useRealTimers();
    Dialog.flush();
    panel.dispose();
  });

  it('lists the runs of the current folder, newest first, with units', async () => {
    await panel.refresh();
    expect(listRuns).toHaveBeenCalledWith('nb');
    expect(ids()).toEqual(['c', 'b', 'a']);
    expect(status()).toBe('3 run(s) in nb/.fmprofile');
    const first = q('.fmp-RunRow');
    expect(first.querySelector('.fmp-col-wall')!.textContent).toBe('1.50 s');
    expect(first.querySelector('.fmp-col-tokensPerS')!.textContent).toBe('123 tok/s');
    expect(first.querySelector('.fmp-col-ttft')!.textContent).toBe('TTFT p50 8.25 ms');
  });

  it('re-renders on a new store version or folder only, unless forced', async () => {
    await panel.refresh();
    const before = q('.fmp-RunRow');
    await panel.refresh(); // same folder, same version: the DOM is left alone
    expect(before.isConnected).toBe(true);

    listRuns.mockResolvedValue({ ...THREE, version: 2, runs: THREE.runs.slice(1) });
    await panel.refresh();
    expect(before.isConnected).toBe(false);
    expect(ids()).toEqual(['b', 'a']);

    folder = 'other'; // another notebook's store, whose version happens to be the same
    listRuns.mockResolvedValue(list(2, [row('z', 'elsewhere')], 'other/.fmprofile'));
    await panel.refresh();
    expect(listRuns).toHaveBeenLastCalledWith('other');
    expect(ids()).toEqual(['z']);

    const z = q('.fmp-RunRow');
    simulate(q('.fmp-refresh'), 'click'); // the Refresh button forces a re-render
    await Promise.resolve();
    await Promise.resolve();
    expect(z.isConnected).toBe(false);
    expect(ids()).toEqual(['z']);
  });

  it('keeps the last list when the server cannot be reached', async () => {
    await panel.refresh();
    listRuns.mockRejectedValue(new Error('503 Service Unavailable'));
    await panel.refresh(true);
    expect(status()).toBe('Cannot list runs: 503 Service Unavailable');
    expect(ids()).toEqual(['c', 'b', 'a']);
  });

  it('refreshes when shown, polls every 4 s while visible, and stops when hidden', async () => {
    jest.useFakeTimers();
    panel.show(); // after-show: one forced refresh, then the poll
    await jest.advanceTimersByTimeAsync(0);
    expect(listRuns).toHaveBeenCalledTimes(1);
    expect(ids()).toEqual(['c', 'b', 'a']);

    listRuns.mockResolvedValue({ ...THREE, version: 2, runs: [row('d', 'new'), ...THREE.runs] });
    await jest.advanceTimersByTimeAsync(3999);
    expect(listRuns).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(listRuns).toHaveBeenCalledTimes(2);
    expect(ids()).toEqual(['d', 'c', 'b', 'a']);
    await jest.advanceTimersByTimeAsync(8000);
    expect(listRuns).toHaveBeenCalledTimes(4);

    panel.hide();
    await jest.advanceTimersByTimeAsync(20000);
    expect(listRuns).toHaveBeenCalledTimes(4);
  });

  it('filters rows as the user types, and keeps selections across the filter', async () => {
    await panel.refresh();
    simulate(checkbox('a'), 'click');
    const input = q<HTMLInputElement>('.fmp-RunsPanel-filter');
    input.value = 'RAG';
    simulate(input, 'input');
    expect(ids()).toEqual(['c', 'b']);
    expect(panel.model.selected).toEqual(['a']);
    input.value = '';
    simulate(input, 'input');
    expect(checkbox('a').checked).toBe(true);
  });

  it('compares two selected runs, the older one as baseline', async () => {
    await panel.refresh();
    const compare = q<HTMLButtonElement>('.fmp-compare');
    expect(compare.disabled).toBe(true);
    simulate(checkbox('c'), 'click');
    expect(compare.disabled).toBe(true);
    simulate(checkbox('a'), 'click');
    expect(compare.disabled).toBe(false);
    simulate(compare, 'click');
    expect(openPage).toHaveBeenCalledWith('compare:nb:a:c', 'Compare base → rag-v2');
  });

  it('corrupt runs cannot be selected or opened; a double click opens a report', async () => {
    listRuns.mockResolvedValue(list(1, [row('ok1', null), row('bad', 'broken', { status: 'corrupt', error: 'no meta' })]));
    await panel.refresh();
    expect(checkbox('bad').disabled).toBe(true);
    expect(q<HTMLButtonElement>('[data-run-id="bad"] .fmp-action-report').disabled).toBe(true);
    expect(q('[data-run-id="bad"]').title).toBe('bad: no meta');
    simulate(q('[data-run-id="ok1"]'), 'dblclick');
    expect(openPage).toHaveBeenCalledWith('report:nb:ok1', 'Run ok1');
  });

  it('a run still recording has no report and cannot be deleted; a crashed one says why and opens', async () => {
    const why = 'the kernel (pid 42) died while recording; rebuilt from its journal';
    listRuns.mockResolvedValue(
      list(1, [
        row('live', 'running', { status: 'recording', status_detail: null, wall_s: null }),
        row('dead', 'killed', { status: 'crashed', status_detail: why })
      ])
    );
    await panel.refresh();
    expect(q('[data-run-id="live"] .fmp-col-status').textContent).toBe('recording');
    expect(q<HTMLButtonElement>('[data-run-id="live"] .fmp-action-report').disabled).toBe(true);
    expect(q<HTMLButtonElement>('[data-run-id="live"] .fmp-action-delete').disabled).toBe(true);
    expect(q('[data-run-id="dead"]').className).toContain('fmp-status-crashed');
    expect(q('[data-run-id="dead"]').title).toBe(`dead: ${why}`);
    expect(q<HTMLButtonElement>('[data-run-id="dead"] .fmp-action-report').disabled).toBe(false);
  });

  it('deletes a run only after the dialog is confirmed, then re-reads the list', async () => {
    await panel.refresh();
    deleteRun.mockResolvedValue();
    const del = () => simulate(q('[data-run-id="b"] .fmp-action-delete'), 'click');

    del();
    await waitForDialog();
    // Cancel is the dialog's reject button. (@jupyterlab/testing's dismissDialog sends Escape as `key`
    // only, while the 4.6 Dialog reads `keyCode`, so it would leave the dialog open.)
    simulate(document.body.querySelector('.jp-Dialog .jp-mod-reject') as HTMLElement, 'click');
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(document.body.querySelector('.jp-Dialog')).toBeNull();
    expect(deleteRun).not.toHaveBeenCalled();

    listRuns.mockResolvedValue({ ...THREE, version: 2, runs: [THREE.runs[0], THREE.runs[2]] });
    const deleting = panel.deleteRun(THREE.runs[1]);
    await waitForDialog();
    expect(document.body.querySelector('.jp-Dialog-body')!.textContent).toContain('Delete run rag-v1 (b)');
    await dangerDialog();
    await deleting;
    expect(deleteRun).toHaveBeenCalledWith('nb', 'b');
    expect(ids()).toEqual(['c', 'a']);
  });

  it('adds a note from the input dialog and refreshes', async () => {
    await panel.refresh();
    addNote.mockResolvedValue();
    const noting = panel.addNote(THREE.runs[0]);
    await waitForDialog();
    const input = document.body.querySelector('.jp-Dialog input') as HTMLInputElement;
    input.value = 'slow first token';
    simulate(document.body.querySelector('.jp-Dialog .jp-mod-accept') as HTMLElement, 'click');
    await noting;
    expect(addNote).toHaveBeenCalledWith('nb', 'c', 'slow first token');
    expect(listRuns).toHaveBeenCalledTimes(2);
  });
});
