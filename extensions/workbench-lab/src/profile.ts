/**
 * "Profile cell": run the active code cell under `%%fmprofile` in the cell's own output area. The cell's
 * text is never edited: the magic line is prepended to the code sent to the kernel only, so the run
 * records the cell body as the user wrote it.
 */
import { CodeCell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';
import { OutputArea } from '@jupyterlab/outputarea';
import { Signal } from '@lumino/signaling';

import { ILiveStatus, isProfiledSource, MAGIC } from './status';

// Quiet when the extension is already loaded (`%load_ext` would print that it is).
const LOAD_EXTENSION = "get_ipython().extension_manager.load_extension('workbench')";

export interface IProfiledCell {
  panel: NotebookPanel;
  cell: CodeCell;
  /** When the page saw it start (Date.now()). */
  started: number;
  /** Who started it: the Profile command, a `%%fmprofile` cell run as usual, or the kernel's status comm. */
  origin: 'command' | 'cell' | 'kernel';
  /** The run's name, from the kernel's status comm. */
  name?: string | null;
  /** The kernel's latest live tick (none with --quiet, --repeat, --sweep or without jupyter_bokeh). */
  status?: ILiveStatus | null;
  /** When that tick came (Date.now()). */
  received?: number;
}

/** The profiled cells now running, for the status bar and the sidebar: started by the Profile command,
 * seen scheduled with `%%fmprofile` as their first line, or announced by the kernel's status comm. */
export class ProfileTracker {
  readonly started = new Signal<this, IProfiledCell>(this);
  readonly changed = new Signal<this, IProfiledCell>(this);
  readonly finished = new Signal<this, IProfiledCell>(this);
  private _items: IProfiledCell[] = [];

  /** The one the status bar shows (cells of a kernel run in order). */
  get running(): IProfiledCell | null {
    return this.current();
  }

  /** The earliest started with a live status still coming, else the earliest started; of one notebook
   * if given. */
  current(panel?: NotebookPanel): IProfiledCell | null {
    const items = panel ? this._items.filter(item => item.panel === panel) : this._items;
    return items.find(item => item.status && !item.status.done) ?? items[0] ?? null;
  }

  find(cell: CodeCell): IProfiledCell | null {
    return this._items.find(item => item.cell === cell) ?? null;
  }

  start(item: IProfiledCell): void {
    this._items.push(item);
    this.started.emit(item);
  }

  /** The item's status or name changed. */
  update(item: IProfiledCell): void {
    if (this._items.includes(item)) {
      this.changed.emit(item);
    }
  }

  /** Finish every item of a notebook (its kernel restarted or went away, or it was closed). */
  finishAll(panel: NotebookPanel): void {
    this._items.filter(item => item.panel === panel).forEach(item => this.finish(item));
  }

  finish(item: IProfiledCell): void {
    const index = this._items.indexOf(item);
    if (index >= 0) {
      this._items.splice(index, 1);
      this.finished.emit(item);
    }
  }
}

/** The code sent to the kernel: the cell under the magic, unless the cell already starts with it. */
export function profiledCode(source: string): string {
  return isProfiledSource(source) ? source : `${MAGIC}\n${source}`;
}

export async function profileActiveCell(panel: NotebookPanel, tracker: ProfileTracker): Promise<boolean> {
  const cell = panel.content.activeCell;
  if (!(cell instanceof CodeCell)) {
    return false;
  }
  const sessionContext = panel.sessionContext;
  await sessionContext.ready;
  const kernel = sessionContext.session?.kernel;
  if (!kernel) {
    return false;
  }
  await kernel.requestExecute({ code: LOAD_EXTENSION, silent: true, store_history: false }).done;
  const item: IProfiledCell = { panel, cell, started: Date.now(), origin: 'command' };
  tracker.start(item);
  const model = cell.model;
  // What CodeCell.execute does around OutputArea.execute; only the code sent differs. Outputs the user
  // just produced are trusted, so the dashboard's HTML and BokehJS render (not the plain-text summary).
  model.sharedModel.transact(() => {
    model.clearExecution();
    cell.outputHidden = false;
  }, false);
  model.executionState = 'running';
  model.trusted = true;
  cell.setPrompt('*');
  const metadata = { ...model.metadata, cellId: model.sharedModel.getId() };
  try {
    const code = profiledCode(model.sharedModel.getSource());
    const reply = await OutputArea.execute(code, cell.outputArea, sessionContext, metadata);
    model.executionCount = reply?.content.execution_count ?? null;
    return reply?.content.status === 'ok';
  } finally {
    model.executionState = 'idle';
    tracker.finish(item);
  }
}
