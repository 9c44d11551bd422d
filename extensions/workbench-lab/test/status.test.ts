// The status bar's live indicator text with Node's own test runner: `npm test` (no browser, no JupyterLab).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import {
  elapsedSeconds,
  formatElapsed,
  formatStatus,
  ILiveStatus,
  isProfiledSource,
  parseOpen,
  parseStatus
} from '../src/status';

function tick(extra: Partial<ILiveStatus> = {}): ILiveStatus {
  return {
    elapsed_s: 12.34, samples: 1234, output_tokens: 60, tokens_per_s: 41.87, requests: 2, ttft_p50_ms: 8.25,
    status: 'running', done: false, ...extra
  };
}

test('elapsed, tokens/s and samples, compact', () => {
  const { text, title } = formatStatus('rag-v1', 12.34, tick(), 'lab.ipynb');
  assert.equal(text, '● fmprofile rag-v1 · 12.3 s · 41.9 tok/s · 1,234 samples');
  assert.match(title, /^Profiling rag-v1 in lab\.ipynb: 12\.3 s; 60 output tokens, 41\.9 tokens\/s; 2 LLM requests, TTFT p50 8\.25 ms; 1,234 live CPU samples\. Click/);
});

test('no tokens yet: no tokens/s; no tick yet: the elapsed time only', () => {
  assert.equal(formatStatus('run', 0.5, tick({ output_tokens: 0, tokens_per_s: 0, samples: 3 })).text, '● fmprofile run · 0.5 s · 3 samples');
  assert.equal(formatStatus('lab.ipynb', 3, null).text, '● fmprofile lab.ipynb · 3.0 s');
  assert.match(formatStatus('run', 1, tick({ samples: 1 })).text, / 1 sample$/);
  assert.equal(formatStatus('run', 1, tick({ requests: 1, ttft_p50_ms: null })).title.includes('1 LLM request;'), true);
  assert.equal(formatStatus('run', 1, tick({ done: true, status: 'finished' })).title.includes('finished'), true);
});

test('tokens/s keep three significant digits; large rates are whole numbers', () => {
  assert.match(formatStatus('r', 1, tick({ tokens_per_s: 4.256 })).text, / 4\.26 tok\/s /);
  assert.match(formatStatus('r', 1, tick({ tokens_per_s: 1234.4 })).text, / 1,234 tok\/s /);
});

test('elapsed under a minute in seconds, then minutes and hours', () => {
  assert.equal(formatElapsed(0), '0.0 s');
  assert.equal(formatElapsed(-1), '0.0 s');
  assert.equal(formatElapsed(59.94), '59.9 s');
  assert.equal(formatElapsed(125.7), '2:05');
  assert.equal(formatElapsed(3725), '1:02:05');
});

test('elapsed runs on between ticks from the kernel clock, and stops at the last one', () => {
  assert.equal(elapsedSeconds(1000, null, 0, 3500), 2.5);
  assert.equal(elapsedSeconds(0, tick({ elapsed_s: 2 }), 10_000, 10_300), 2.3);
  assert.equal(elapsedSeconds(0, tick({ elapsed_s: 2, done: true }), 10_000, 19_000), 2);
  assert.equal(elapsedSeconds(0, tick({ elapsed_s: 2 }), 10_000, 9_000), 2);  // clocks never run back
});

test('comm data is checked field by field', () => {
  assert.equal(parseStatus(null), null);
  assert.equal(parseStatus({ samples: 3 }), null);
  assert.equal(parseStatus([1]), null);
  assert.deepEqual(parseStatus({ elapsed_s: 1, samples: 'x', tokens_per_s: Infinity, done: 1 }), {
    elapsed_s: 1, samples: 0, output_tokens: 0, tokens_per_s: 0, requests: 0, ttft_p50_ms: null,
    status: 'running', done: false
  });
  assert.deepEqual(parseStatus(tick()), tick());
  assert.deepEqual(parseOpen({ version: 1, name: 'rag', cell_id: 'c1' }), { name: 'rag', cellId: 'c1' });
  assert.deepEqual(parseOpen(undefined), { name: null, cellId: null });
});

test('a cell is profiled when its first line is the magic', () => {
  assert.equal(isProfiledSource('%%fmprofile\nx = 1'), true);
  assert.equal(isProfiledSource('\n  %%fmprofile --name a\nx'), true);
  assert.equal(isProfiledSource('%%fmprofile\t--quiet'), true);
  assert.equal(isProfiledSource('%%fmprofile_compare a b'), false);
  assert.equal(isProfiledSource('x = 1\n%%fmprofile'), false);
});
