// The note field's messages and the Python the extension runs for them: `npm test` (Jest).
import { isNoteRequest, noteCode, reportFolder } from '../src/noteRequest';

const request = {
  type: 'fmprofile:note' as const, id: 'a1', run: '20261121-1', path: '/s/runs/20261121-1',
  text: "it's <b>slow</b>''' \\ é", start_ms: 10, end_ms: 20.5
};

describe('note requests', () => {
  it('a note request is recognised, anything else is not', () => {
    expect(isNoteRequest(request)).toBe(true);
    expect(isNoteRequest({ ...request, start_ms: null, end_ms: null })).toBe(true);
    expect(isNoteRequest({ ...request, type: 'other' })).toBe(false);
    expect(isNoteRequest({ ...request, text: 3 })).toBe(false);
    expect(isNoteRequest({ ...request, start_ms: '1' })).toBe(false);
    expect(isNoteRequest(null)).toBe(false);
  });

  it('the Python carries the note as base64 JSON, so no text breaks out of the string', () => {
    const code = noteCode(request);
    const match = /note_from_dashboard\('([A-Za-z0-9+/=]+)'\)$/.exec(code);
    expect(match).not.toBeNull();
    // Decoded as the browser would (jsdom: atob and TextDecoder), not with Node's Buffer.
    const bytes = Uint8Array.from(atob(match![1]), c => c.charCodeAt(0));
    const decoded = JSON.parse(new TextDecoder().decode(bytes));
    expect(decoded).toEqual({
      run: request.run, path: request.path, text: request.text, start_ms: 10, end_ms: 20.5
    });
  });

  it('a report page served by the server extension names its store folder', () => {
    const base = 'http://127.0.0.1:8888/lab/tree/nb.ipynb';
    expect(reportFolder('/fmprofile/api/runs/x/report?path=nb%2Fsub&token=t', base)).toBe('nb/sub');
    expect(reportFolder('about:srcdoc', base)).toBeNull();
    expect(reportFolder('/files/report.html', base)).toBeNull();
  });
});
