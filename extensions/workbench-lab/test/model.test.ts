// The run-list model with Node's own test runner: `npm test` (no browser, no JupyterLab).
import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import { formatRow, IRunRow, RunListModel } from '../src/model';

function row(id: string, name: string, extra: Partial<IRunRow> = {}): IRunRow {
  return {
    id, name, created: '2026-11-21T10:00:00', wall_s: 1.5, output_tokens: 10, output_tokens_per_s: 123.4,
    ttft_ms_p50: 8.25, status: 'ok', error: null, parent: null, notes: 0, has_report: true, ...extra
  };
}

const LIST = { store: 'nb/.fmprofile', version: 1, runs: [row('c', 'rag-v2'), row('b', 'rag-v1'), row('a', 'base')] };

test('filter matches name or id, case-insensitive, keeping newest first', () => {
  const model = new RunListModel();
  model.setRuns(LIST);
  model.filter = ' RAG ';
  assert.deepEqual(model.visible.map(r => r.id), ['c', 'b']);
  model.filter = '';
  assert.equal(model.visible.length, 3);
});

test('at most two selected; the older run is the baseline', () => {
  const model = new RunListModel();
  model.setRuns(LIST);
  model.toggle('c');
  assert.equal(model.comparePair(), null);
  model.toggle('a');
  assert.deepEqual(model.comparePair(), ['a', 'c']);
  model.toggle('b');  // a third selection drops the first one chosen
  assert.deepEqual(model.selected, ['a', 'b']);
  model.toggle('a');
  assert.deepEqual(model.selected, ['b']);
});

test('a refresh drops selections of deleted runs', () => {
  const model = new RunListModel();
  model.setRuns(LIST);
  model.toggle('a');
  model.toggle('b');
  model.setRuns({ ...LIST, version: 2, runs: LIST.runs.slice(0, 2) });
  assert.deepEqual(model.selected, ['b']);
});

test('cells have units and a dash for missing metrics', () => {
  const cells = formatRow(row('x', 'n', { output_tokens_per_s: null, ttft_ms_p50: null }));
  assert.equal(cells.wall, '1.50 s');
  assert.equal(cells.tokensPerS, '–');
  assert.equal(cells.ttft, '–');
  assert.equal(formatRow(row('y', 'n')).tokensPerS, '123');
});
