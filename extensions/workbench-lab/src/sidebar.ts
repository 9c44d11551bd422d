/**
 * The Runs sidebar: the runs of the current notebook's folder store, newest first, with a name filter;
 * per run: open the report, add a note, delete (after a confirmation); two selected runs: compare.
 */
import { Dialog, InputDialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import * as api from './api';
import { formatRow, IRunRow, RunListModel } from './model';

// While the panel is visible the list is re-read this often; the server answers with a version stamp, so
// an unchanged store costs one small request.
const POLL_MS = 4000;

export interface IRunsPanelOptions {
  /** The folder (relative to the server root) whose store to list: the current notebook's. */
  folder: () => string;
  openPage: (url: string, title: string) => void;
}

export class RunsPanel extends Widget {
  readonly model = new RunListModel();
  private _folder = '';
  private _timer = 0;
  private _status: HTMLElement;
  private _body: HTMLElement;
  private _compare: HTMLButtonElement;

  constructor(private readonly _options: IRunsPanelOptions) {
    super();
    this.id = 'fmprofile-runs';
    this.addClass('fmp-RunsPanel');
    this.title.caption = 'Profiled runs';
    const header = document.createElement('div');
    header.className = 'fmp-RunsPanel-header';
    header.innerHTML = `<div class="fmp-RunsPanel-title">Profiled runs</div>
      <input class="fmp-RunsPanel-filter" type="search" placeholder="Filter by name" />
      <div class="fmp-RunsPanel-actions">
        <button class="jp-mod-styled fmp-refresh" title="Refresh">Refresh</button>
        <button class="jp-mod-styled jp-mod-accept fmp-compare" title="Compare the two selected runs" disabled>Compare</button>
      </div>`;
    this._status = document.createElement('div');
    this._status.className = 'fmp-RunsPanel-status';
    // One block per run (two lines): the sidebar is ~250 px wide, too narrow for a seven-column table.
    this._body = document.createElement('div');
    this._body.className = 'fmp-RunList';
    this.node.append(header, this._status, this._body);
    const filter = header.querySelector('input') as HTMLInputElement;
    filter.addEventListener('input', () => {
      this.model.filter = filter.value;
      this.renderRows();
    });
    (header.querySelector('.fmp-refresh') as HTMLButtonElement).onclick = () => void this.refresh(true);
    this._compare = header.querySelector('.fmp-compare') as HTMLButtonElement;
    this._compare.onclick = () => this.compareSelected();
  }

  /** Re-read the list; unless forced, only re-render when the store's version changed. */
  async refresh(force = false): Promise<void> {
    const folder = this._options.folder();
    try {
      const list = await api.listRuns(folder);
      if (!force && folder === this._folder && list.version === this.model.version) {
        return;
      }
      this._folder = folder;
      this.model.setRuns(list);
      this._status.textContent = `${list.runs.length} run(s) in ${list.store || '.fmprofile'}`;
    } catch (error) {
      this._status.textContent = `Cannot list runs: ${(error as Error).message}`;
    }
    this.renderRows();
  }

  protected onAfterShow(): void {
    void this.refresh(true);
    this._timer = window.setInterval(() => void this.refresh(), POLL_MS);
  }

  protected onAfterHide(): void {
    window.clearInterval(this._timer);
  }

  renderRows(): void {
    const selected = new Set(this.model.selected);
    this._body.replaceChildren(...this.model.visible.map(row => this._row(row, selected.has(row.id))));
    this._compare.disabled = this.model.comparePair() === null;
  }

  private _row(row: IRunRow, selected: boolean): HTMLElement {
    const cells = formatRow(row);
    const item = document.createElement('div');
    item.className = `fmp-RunRow fmp-status-${row.status}`;
    item.dataset.runId = row.id;
    const why = row.error ?? row.status_detail;
    item.title = why ? `${row.id}: ${why}` : `${row.id}${row.notes ? ` · ${row.notes} note(s)` : ''}`;
    const check = document.createElement('input');
    check.type = 'checkbox';
    check.checked = selected;
    check.disabled = row.status === 'corrupt';
    check.title = 'Select two runs to compare';
    check.onchange = () => {
      this.model.toggle(row.id);
      this.renderRows();
    };
    const name = this._span('fmp-col-name', cells.name);
    const status = this._span('fmp-col-status', cells.status);
    const metrics = document.createElement('div');
    metrics.className = 'fmp-RunRow-metrics';
    metrics.append(
      this._span('fmp-col-time', cells.time),
      this._span('fmp-col-wall', cells.wall),
      this._span('fmp-col-tokensPerS', `${cells.tokensPerS} tok/s`),
      this._span('fmp-col-ttft', `TTFT p50 ${cells.ttft}`)
    );
    // A run still being recorded has no report yet; a crashed one has (rebuilt from its journal).
    const unreadable = row.status === 'corrupt' || row.status === 'recording';
    const actions = document.createElement('div');
    actions.className = 'fmp-RunRow-actions';
    actions.append(
      this._action('Report', 'Open the report', () => this.openReport(row), unreadable),
      this._action('Note', 'Add a note', () => void this.addNote(row), unreadable),
      this._action('Delete', 'Delete the run', () => void this.deleteRun(row), row.status === 'recording')
    );
    const first = document.createElement('div');
    first.className = 'fmp-RunRow-head';
    first.append(check, name, status);
    item.append(first, metrics, actions);
    item.ondblclick = () => this.openReport(row);
    return item;
  }

  private _span(className: string, text: string): HTMLSpanElement {
    const span = document.createElement('span');
    span.className = className;
    span.textContent = text;
    return span;
  }

  private _action(label: string, title: string, run: () => void, disabled: boolean): HTMLButtonElement {
    const button = document.createElement('button');
    button.className = `fmp-action fmp-action-${label.toLowerCase()}`;
    button.textContent = label;
    button.title = title;
    button.disabled = disabled;
    button.onclick = event => {
      event.stopPropagation();
      run();
    };
    return button;
  }

  openReport(row: IRunRow): void {
    this._options.openPage(api.reportUrl(this._folder, row.id), `Run ${row.name ?? row.id}`);
  }

  compareSelected(): void {
    const pair = this.model.comparePair();
    if (pair) {
      const names = pair.map(id => this.model.visible.find(r => r.id === id)?.name ?? id);
      this._options.openPage(api.compareUrl(this._folder, pair[0], pair[1]), `Compare ${names[0]} → ${names[1]}`);
    }
  }

  async addNote(row: IRunRow): Promise<void> {
    const answer = await InputDialog.getText({ title: `Note on ${row.name ?? row.id}`, placeholder: 'What did you notice?' });
    if (!answer.button.accept || !answer.value?.trim()) {
      return;
    }
    try {
      await api.addNote(this._folder, row.id, answer.value);
      await this.refresh(true);
    } catch (error) {
      await showErrorMessage('Could not add the note', error as Error);
    }
  }

  async deleteRun(row: IRunRow): Promise<void> {
    const answer = await showDialog({
      title: 'Delete run?',
      body: `Delete run ${row.name ?? ''} (${row.id}) and its files? This cannot be undone.`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
    });
    if (!answer.button.accept) {
      return;
    }
    try {
      await api.deleteRun(this._folder, row.id);
      await this.refresh(true);
    } catch (error) {
      await showErrorMessage('Could not delete the run', error as Error);
    }
  }
}
