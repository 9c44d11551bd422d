// The run-list model (pure data): `npm test` (Jest).
import { formatNumber, formatRow, IRunRow, RunListModel } from '../src/model';

function row(id: string, name: string, extra: Partial<IRunRow> = {}): IRunRow {
  return {
    id, name, created: '2026-11-21T10:00:00', wall_s: 1.5, output_tokens: 10, output_tokens_per_s: 123.4,
    ttft_ms_p50: 8.25, status: 'ok', status_detail: null, error: null, parent: null, notes: 0, has_report: true, ...extra
  };
}

const LIST = { store: 'nb/.fmprofile', version: 1, runs: [row('c', 'rag-v2'), row('b', 'rag-v1'), row('a', 'base')] };

describe('RunListModel', () => {
  it('filter matches name or id, case-insensitive, keeping newest first', () => {
    const model = new RunListModel();
    model.setRuns(LIST);
    model.filter = ' RAG ';
    expect(model.visible.map(r => r.id)).toEqual(['c', 'b']);
    model.filter = '';
    expect(model.visible).toHaveLength(3);
  });

  it('at most two selected; the older run is the baseline', () => {
    const model = new RunListModel();
    model.setRuns(LIST);
    model.toggle('c');
    expect(model.comparePair()).toBeNull();
    model.toggle('a');
    expect(model.comparePair()).toEqual(['a', 'c']);
    model.toggle('b'); // a third selection drops the first one chosen
    expect(model.selected).toEqual(['a', 'b']);
    model.toggle('a');
    expect(model.selected).toEqual(['b']);
  });

  it('a refresh drops selections of deleted runs', () => {
    const model = new RunListModel();
    model.setRuns(LIST);
    model.toggle('a');
    model.toggle('b');
    model.setRuns({ ...LIST, version: 2, runs: LIST.runs.slice(0, 2) });
    expect(model.selected).toEqual(['b']);
  });

  it('starts empty with no version, keeps the server version and copies the rows it is given', () => {
    const model = new RunListModel();
    expect(model.version).toBe(-1);
    expect(model.visible).toEqual([]);
    expect(model.comparePair()).toBeNull();
    const runs = LIST.runs.slice();
    model.setRuns({ ...LIST, version: 7, runs });
    runs.pop();
    expect(model.version).toBe(7);
    expect(model.visible).toHaveLength(3);
    model.selected.push('x'); // a copy: the model's selection is not changed from outside
    expect(model.selected).toEqual([]);
  });

  it('the filter matches ids too, and unnamed runs only by id', () => {
    const model = new RunListModel();
    model.setRuns({ ...LIST, runs: [row('20261121-2', 'x'), { ...row('20261121-1', 'y'), name: null }] });
    model.filter = '1121-1';
    expect(model.visible.map(r => r.id)).toEqual(['20261121-1']);
    model.filter = 'y';
    expect(model.visible).toEqual([]);
    expect(model.filter).toBe('y');
  });
});

describe('formatRow', () => {
  it('cells have units and a dash for missing metrics', () => {
    const cells = formatRow(row('x', 'n', { output_tokens_per_s: null, ttft_ms_p50: null }));
    expect(cells.wall).toBe('1.50 s');
    expect(cells.tokensPerS).toBe('–');
    expect(cells.ttft).toBe('–');
    expect(formatRow(row('y', 'n')).tokensPerS).toBe('123');
  });

  it('names fall back to the id; times are local minutes, unparsable ones shown as given', () => {
    expect(formatRow({ ...row('r1', 'n'), name: null }).name).toBe('r1');
    expect(formatRow(row('r', 'n')).time).toBe('2026-11-21 10:00');
    expect(formatRow(row('r', 'n', { created: null })).time).toBe('–');
    expect(formatRow(row('r', 'n', { created: 'yesterday' })).time).toBe('yesterday');
    expect(formatRow(row('r', 'n', { wall_s: null })).wall).toBe('–');
  });

  it('numbers: two decimals under 10, one under 100, grouped integers above', () => {
    expect(formatNumber(8.256)).toBe('8.26');
    expect(formatNumber(42.04)).toBe('42.0');
    expect(formatNumber(1234.5)).toBe('1,235');
    expect(formatNumber(-250.4)).toBe('-250');
  });
});
