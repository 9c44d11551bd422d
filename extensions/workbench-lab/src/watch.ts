/**
 * Profiled cells the user runs as usual (a `%%fmprofile` first line, Shift+Enter, Run All...), for the
 * status bar: seen when the notebook schedules them, and fed with the counters the kernel sends on the
 * `fmprofile_status` comm (registered on every notebook's kernel) while their live view runs.
 */
import { Cell, CodeCell } from '@jupyterlab/cells';
import { INotebookTracker, Notebook, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';

import { IProfiledCell, ProfileTracker } from './profile';
import { isProfiledSource, parseOpen, parseStatus, STATUS_TARGET } from './status';

export function watchProfiledCells(notebooks: INotebookTracker, tracker: ProfileTracker): void {
  const panelOf = (notebook: Notebook): NotebookPanel | null =>
    notebooks.find(panel => panel.content === notebook) ?? null;

  NotebookActions.executionScheduled.connect((_, { notebook, cell }) => {
    const panel = panelOf(notebook);
    if (panel && cell instanceof CodeCell && !tracker.find(cell) && isProfiledSource(cell.model.sharedModel.getSource())) {
      tracker.start({ panel, cell, started: Date.now(), origin: 'cell' });
    }
  });
  NotebookActions.executed.connect((_, { cell }) => {
    const item = cell instanceof CodeCell ? tracker.find(cell) : null;
    if (item && item.origin !== 'command') {
      tracker.finish(item);
    }
  });

  const registered = new WeakSet<Kernel.IKernelConnection>();
  notebooks.widgetAdded.connect((_, panel) => {
    const register = (kernel: Kernel.IKernelConnection | null | undefined) => {
      if (kernel && !registered.has(kernel)) {
        registered.add(kernel);
        kernel.registerCommTarget(STATUS_TARGET, (comm, msg) => onStatusComm(panel, tracker, comm, msg));
      }
    };
    // A cell cancelled by a kernel restart or shutdown may never report its end: drop the notebook's.
    const dropAll = () => tracker.finishAll(panel);
    panel.sessionContext.kernelChanged.connect((_, change) => {
      dropAll();
      register(change.newValue);
    });
    panel.sessionContext.statusChanged.connect((_, status) => {
      if (status === 'restarting' || status === 'autorestarting' || status === 'dead') {
        dropAll();
      }
    });
    panel.disposed.connect(dropAll);
    register(panel.sessionContext.session?.kernel);
  });
}

function onStatusComm(
  panel: NotebookPanel,
  tracker: ProfileTracker,
  comm: Kernel.IComm,
  msg: KernelMessage.ICommOpenMsg
): void {
  const open = parseOpen(msg.content.data);
  const cell = findCell(panel, open.cellId);
  if (cell === null) {
    return; // not a cell of this notebook (another frontend's, or deleted): the comm just stays unused
  }
  let item: IProfiledCell | null = tracker.find(cell);
  if (item === null) {
    item = { panel, cell, started: Date.now(), origin: 'kernel' };
    tracker.start(item);
  }
  const current = item;
  current.name = open.name;
  current.status = null;
  tracker.update(current);
  comm.onMsg = message => {
    const status = parseStatus(message.content.data);
    if (status !== null) {
      current.status = status;
      current.received = Date.now();
      tracker.update(current);
    }
  };
  comm.onClose = () => {
    // The cell's own end (its reply) finishes the others: the final dashboard is still being built.
    if (current.origin === 'kernel') {
      tracker.finish(current);
    }
  };
}

/** The cell the kernel names; without an id (another frontend), the first running `%%fmprofile` cell. */
function findCell(panel: NotebookPanel, cellId: string | null): CodeCell | null {
  const cells = panel.content.widgets;
  const isCode = (cell: Cell): cell is CodeCell => cell instanceof CodeCell;
  if (cellId !== null) {
    return cells.filter(isCode).find(cell => cell.model.sharedModel.getId() === cellId) ?? null;
  }
  return (
    cells
      .filter(isCode)
      .find(cell => cell.model.executionState === 'running' && isProfiledSource(cell.model.sharedModel.getSource())) ??
    null
  );
}
