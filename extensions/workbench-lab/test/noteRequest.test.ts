// The note field's messages and the Python the extension runs for them: `npm test`.
import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import { isNoteRequest, noteCode, reportFolder } from '../src/noteRequest';

const request = {
  type: 'fmprofile:note' as const, id: 'a1', run: '20261121-1', path: '/s/runs/20261121-1',
  text: "it's <b>slow</b>''' \\ é", start_ms: 10, end_ms: 20.5
};

test('a note request is recognised, anything else is not', () => {
  assert.ok(isNoteRequest(request));
  assert.ok(isNoteRequest({ ...request, start_ms: null, end_ms: null }));
  assert.ok(!isNoteRequest({ ...request, type: 'other' }));
  assert.ok(!isNoteRequest({ ...request, text: 3 }));
  assert.ok(!isNoteRequest({ ...request, start_ms: '1' }));
  assert.ok(!isNoteRequest(null));
});

test('the Python carries the note as base64 JSON, so no text breaks out of the string', () => {
  const code = noteCode(request);
  const match = /note_from_dashboard\('([A-Za-z0-9+/=]+)'\)$/.exec(code);
  assert.ok(match, code);
  const decoded = JSON.parse(Buffer.from(match![1], 'base64').toString('utf8'));
  assert.deepEqual(decoded, {
    run: request.run, path: request.path, text: request.text, start_ms: 10, end_ms: 20.5
  });
});

test('a report page served by the server extension names its store folder', () => {
  const base = 'http://127.0.0.1:8888/lab/tree/nb.ipynb';
  assert.equal(reportFolder('/fmprofile/api/runs/x/report?path=nb%2Fsub&token=t', base), 'nb/sub');
  assert.equal(reportFolder('about:srcdoc', base), null);
  assert.equal(reportFolder('/files/report.html', base), null);
});
