/**
 * The kernel reads Busy for as long as a cell runs.
 *
 * JupyterLab sets a kernel's status from every status message on iopub, including the busy/idle pair the
 * kernel sends around a control-channel request. Since JupyterLab 4.4 the widget manager opens a subshell
 * for a widget's comms with `create_subshell_request` (control): the live view's widget made the status
 * read Idle a second into every profiled cell, and stay so until the cell ended. While an execute request
 * this page sent has not ended (its own idle, or its reply), an idle that belongs to another request is
 * put back to busy.
 */
import { Kernel, KernelMessage } from '@jupyterlab/services';

/** The bookkeeping, apart from JupyterLab (unit-tested). */
export class ExecutionsInFlight {
  private _pending = new Set<string>();

  get size(): number {
    return this._pending.size;
  }

  /** A message sent or received by the kernel connection. */
  see(msg: KernelMessage.IMessage, direction: 'send' | 'recv'): void {
    const type = msg.header.msg_type;
    if (direction === 'send') {
      if (msg.channel === 'shell' && type === 'execute_request') {
        this._pending.add(msg.header.msg_id);
      }
      return;
    }
    const parent = (msg.parent_header as Partial<KernelMessage.IHeader> | undefined)?.msg_id;
    if (!parent || !this._pending.has(parent)) {
      return;
    }
    const idle =
      type === 'status' && (msg.content as Partial<KernelMessage.IStatusMsg['content']>).execution_state === 'idle';
    if (idle || type === 'execute_reply') {
      this._pending.delete(parent);
    }
  }

  /** A restart or a dead kernel ends every execution. */
  clear(): void {
    this._pending.clear();
  }
}

const watched = new WeakSet<Kernel.IKernelConnection>();

export function keepBusyWhileExecuting(kernel: Kernel.IKernelConnection | null | undefined): void {
  if (!kernel || watched.has(kernel)) {
    return;
  }
  watched.add(kernel);
  const inFlight = new ExecutionsInFlight();
  // `anyMessage` fires as a message arrives, before the connection handles it and changes its status.
  kernel.anyMessage.connect((_, { msg, direction }) => inFlight.see(msg, direction));
  kernel.statusChanged.connect((_, status) => {
    if (status === 'restarting' || status === 'autorestarting' || status === 'dead' || status === 'starting') {
      inFlight.clear();
    } else if (status === 'idle' && inFlight.size > 0) {
      // JupyterLab has no public setter: the connection's own status update, as for its other messages.
      const connection = kernel as unknown as { _updateStatus?: (status: KernelMessage.Status) => void };
      void Promise.resolve().then(() => {
        if (kernel.status === 'idle' && inFlight.size > 0) {
          connection._updateStatus?.call(kernel, 'busy');
        }
      });
    }
  });
}
