/**
 * Notes from the dashboard's note field. The dashboard is a sandboxed frame in a cell's output: it posts
 * {type: 'fmprofile:note', id, run, path, text, start_ms, end_ms} to this page. The notebook's kernel saves
 * the note (`workbench.saved.notes.note_from_dashboard`) and redraws that dashboard with it, so the notebook keeps
 * the note; with no kernel running, the server extension saves it in the run's run.json only. The frame
 * gets {type: 'fmprofile:note-saved', id, ok, message} back.
 */
import { CodeCell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { KernelMessage } from '@jupyterlab/services';

import { addNote } from './api';
import { keepCarrier } from './carrier';

// The metadata key of the redrawn dashboard the kernel sends back (workbench.saved.notes.REDRAW_KEY).
const REDRAW_KEY = 'fmprofile_redraw';

type IMimeBundle = KernelMessage.IDisplayDataMsg['content']['data'];
import { INoteAnswer, isNoteRequest, INoteRequest, noteCode, reportFolder } from './noteRequest';

/** Answers notes posted by dashboards inside the notebooks' outputs. */
export function listenForNotes(notebooks: INotebookTracker): void {
  window.addEventListener('message', event => {
    if (isNoteRequest(event.data)) {
      void saveNote(event.data, event.source as Window | null, notebooks);
    }
  });
}

async function saveNote(request: INoteRequest, source: Window | null, notebooks: INotebookTracker): Promise<void> {
  const frame = Array.from(document.querySelectorAll('iframe')).find(f => f.contentWindow === source);
  if (!source || !frame) {
    return; // not one of ours: a frame of this page posts it, and it answers to that frame only
  }
  const answer = (ok: boolean, message: string) =>
    source.postMessage({ type: 'fmprofile:note-saved', id: request.id, ok, message } as INoteAnswer, '*');
  let panel: NotebookPanel | null = null;
  notebooks.forEach(p => {
    if (p.node.contains(frame)) {
      panel = p;
    }
  });
  const range: [number, number] | undefined =
    request.start_ms !== null && request.end_ms !== null ? [request.start_ms * 1e6, request.end_ms * 1e6] : undefined;
  try {
    if (panel === null) {
      // A run's report in a main-area tab: its address names the store folder and the run.
      const folder = reportFolder(frame.src, window.location.href);
      if (folder === null) {
        answer(false, 'this dashboard is not in an open notebook: use `workbench note RUN "text"` in a terminal');
        return;
      }
      await addNote(folder, request.run, request.text, range);
      answer(true, 'saved in the run');
      frame.src = frame.src; // the report, drawn again with the note
      return;
    }
    const notebook = panel as NotebookPanel;
    const kernel = notebook.sessionContext.session?.kernel;
    if (kernel) {
      answer(true, await saveInKernel(request, kernel, bundle => replaceOutput(notebook, frame, bundle)));
    } else {
      const folder = notebook.context.path.split('/').slice(0, -1).join('/');
      await addNote(folder, request.run, request.text, range);
      answer(true, 'saved in the run (no kernel running: show the run again to see it drawn)');
    }
  } catch (error) {
    answer(false, (error as Error).message);
  }
}

type Kernel = NonNullable<NotebookPanel['sessionContext']['session']>['kernel'];

async function saveInKernel(
  request: INoteRequest,
  kernel: NonNullable<Kernel>,
  redraw: (bundle: IMimeBundle) => void
): Promise<string> {
  const future = kernel.requestExecute({ code: noteCode(request), silent: false, store_history: false });
  let printed = '';
  let failure = '';
  future.onIOPub = (msg: KernelMessage.IIOPubMessage) => {
    if (KernelMessage.isStreamMsg(msg) && msg.content.name === 'stdout') {
      printed += msg.content.text;
    } else if (KernelMessage.isDisplayDataMsg(msg) && msg.content.metadata?.[REDRAW_KEY]) {
      // A kernel that did not show this dashboard itself sends it back, redrawn with the note.
      redraw(msg.content.data as IMimeBundle);
    } else if (KernelMessage.isErrorMsg(msg)) {
      failure = `${msg.content.ename}: ${msg.content.evalue}`;
    }
  };
  const reply = await future.done;
  if (reply.content.status !== 'ok' || failure) {
    throw new Error(failure || 'the kernel could not save the note');
  }
  return printed.trim();
}

/** Put `bundle` in place of the output that holds `frame` (the notebook saves it from there). */
function replaceOutput(panel: NotebookPanel, frame: HTMLIFrameElement, bundle: IMimeBundle): void {
  for (const cell of panel.content.widgets) {
    if (!(cell instanceof CodeCell) || !cell.node.contains(frame)) {
      continue;
    }
    const index = cell.outputArea.widgets.findIndex(widget => widget.node.contains(frame));
    if (index >= 0) {
      const previous = cell.model.outputs.get(index).data['text/html'];
      const html = bundle['text/html'];
      const data =
        typeof previous === 'string' && typeof html === 'string'
          ? { ...bundle, 'text/html': keepCarrier(previous, html) }
          : bundle;
      cell.model.outputs.set(index, { output_type: 'display_data', data, metadata: {} });
    }
  }
}
