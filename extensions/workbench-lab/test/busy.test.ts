// Which idle statuses end an execution and which do not: `npm test` (Jest).
import { KernelMessage } from '@jupyterlab/services';

import { ExecutionsInFlight } from '../src/busy';

let serial = 0;
function message(
  channel: string,
  type: string,
  parent: string | null,
  content: Record<string, unknown> = {}
): KernelMessage.IMessage {
  serial += 1;
  return {
    channel,
    header: { msg_id: `m${serial}`, msg_type: type, session: 's', username: '', date: '', version: '5.3' },
    parent_header: parent ? { msg_id: parent, msg_type: 'x', session: 's', username: '', date: '', version: '5.3' } : {},
    metadata: {},
    content
  } as unknown as KernelMessage.IMessage;
}

describe('ExecutionsInFlight', () => {
  it('an idle for a control request leaves the execution in flight; its own idle ends it', () => {
    const inFlight = new ExecutionsInFlight();
    const execute = message('shell', 'execute_request', null);
    inFlight.see(execute, 'send');
    expect(inFlight.size).toBe(1);
    const subshell = message('control', 'create_subshell_request', null);
    inFlight.see(subshell, 'send');
    inFlight.see(message('iopub', 'status', subshell.header.msg_id, { execution_state: 'idle' }), 'recv');
    expect(inFlight.size).toBe(1);
    inFlight.see(message('iopub', 'status', execute.header.msg_id, { execution_state: 'busy' }), 'recv');
    expect(inFlight.size).toBe(1);
    inFlight.see(message('iopub', 'status', execute.header.msg_id, { execution_state: 'idle' }), 'recv');
    expect(inFlight.size).toBe(0);
  });

  it('the reply ends an execution too, and a restart ends them all', () => {
    const inFlight = new ExecutionsInFlight();
    const first = message('shell', 'execute_request', null);
    const second = message('shell', 'execute_request', null);
    inFlight.see(first, 'send');
    inFlight.see(second, 'send');
    inFlight.see(message('shell', 'execute_reply', first.header.msg_id, { status: 'ok' }), 'recv');
    expect(inFlight.size).toBe(1);
    inFlight.clear();
    expect(inFlight.size).toBe(0);
  });

  it('requests other than execute are not tracked', () => {
    const inFlight = new ExecutionsInFlight();
    inFlight.see(message('shell', 'comm_msg', null), 'send');
    inFlight.see(message('shell', 'kernel_info_request', null), 'send');
    expect(inFlight.size).toBe(0);
  });
});
