/**
 * "Profile cell": run the active code cell under `%%fmprofile` in the cell's own output area. The cell's
 * text is never edited: the magic line is prepended to the code sent to the kernel only, so the run
 * records the cell body as the user wrote it.
 */
import { CodeCell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';
import { OutputArea } from '@jupyterlab/outputarea';
import { Signal } from '@lumino/signaling';

const MAGIC = '%%fmprofile';
// Quiet when the extension is already loaded (`%load_ext` would print that it is).
const LOAD_EXTENSION = "get_ipython().extension_manager.load_extension('workbench')";

export interface IProfiledCell {
  panel: NotebookPanel;
  cell: CodeCell;
  started: number;
}

/** Tells the status bar and the sidebar when a profiled cell starts and ends. */
export class ProfileTracker {
  readonly started = new Signal<this, IProfiledCell>(this);
  readonly finished = new Signal<this, IProfiledCell>(this);
  running: IProfiledCell | null = null;

  start(item: IProfiledCell): void {
    this.running = item;
    this.started.emit(item);
  }

  finish(item: IProfiledCell): void {
    if (this.running === item) {
      this.running = null;
    }
    this.finished.emit(item);
  }
}

/** The code sent to the kernel: the cell under the magic, unless the cell already starts with it. */
export function profiledCode(source: string): string {
  return source.trimStart().startsWith(MAGIC) ? source : `${MAGIC}\n${source}`;
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
  const item = { panel, cell, started: Date.now() };
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
