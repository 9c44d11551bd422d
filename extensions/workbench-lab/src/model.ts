/**
 * The run list the sidebar shows: rows from `GET /fmprofile/api/runs`, a name filter and a selection of
 * at most two runs (the pair to compare). Pure data, no DOM and no JupyterLab imports, so it is unit-tested
 * with Jest (test/model.test.ts).
 */

export interface IRunRow {
  id: string;
  name: string | null;
  created: string | null;
  wall_s: number | null;
  output_tokens: number | null;
  output_tokens_per_s: number | null;
  ttft_ms_p50: number | null;
  /** ok; error: the cell raised; unanalysed: saved, analysis cut short; recording: a live kernel is recording it;
   * crashed: its kernel died while recording (rebuilt from its journal); corrupt: run.json unreadable. */
  status: 'ok' | 'error' | 'corrupt' | 'unanalysed' | 'recording' | 'crashed';
  status_detail: string | null;
  error: string | null;
  parent: string | null;
  notes: number;
  has_report: boolean;
}

export interface IRunList {
  store: string;
  version: number;
  runs: IRunRow[];
}

export class RunListModel {
  private _rows: IRunRow[] = [];
  private _filter = '';
  private _selected: string[] = [];
  version = -1;

  /** Replace the rows (the server sends them newest first); selections of vanished runs are dropped. */
  setRuns(list: IRunList): void {
    this._rows = list.runs.slice();
    this.version = list.version;
    const ids = new Set(this._rows.map(r => r.id));
    this._selected = this._selected.filter(id => ids.has(id));
  }

  get filter(): string {
    return this._filter;
  }

  set filter(text: string) {
    this._filter = text.trim().toLowerCase();
  }

  /** Rows whose name or id contains the filter text (case-insensitive), newest first. */
  get visible(): IRunRow[] {
    if (!this._filter) {
      return this._rows;
    }
    return this._rows.filter(
      r => (r.name ?? '').toLowerCase().includes(this._filter) || r.id.toLowerCase().includes(this._filter)
    );
  }

  get selected(): string[] {
    return this._selected.slice();
  }

  /** Select or unselect a run; a third selection drops the oldest-selected one (a pair is compared). */
  toggle(id: string): void {
    if (this._selected.includes(id)) {
      this._selected = this._selected.filter(s => s !== id);
    } else {
      this._selected = [...this._selected, id].slice(-2);
    }
  }

  /** The selected pair as (baseline, candidate): the older run is the baseline. */
  comparePair(): [string, string] | null {
    if (this._selected.length !== 2) {
      return null;
    }
    const order = this._rows.map(r => r.id);
    const [x, y] = this._selected;
    // Rows are newest first: the larger index is the older run.
    return order.indexOf(x) > order.indexOf(y) ? [x, y] : [y, x];
  }
}

/** Table cells: short, with units, '–' when the run has no such metric. */
export function formatRow(row: IRunRow): Record<string, string> {
  return {
    name: row.name ?? row.id,
    time: formatTime(row.created),
    wall: row.wall_s == null ? '–' : `${formatNumber(row.wall_s)} s`,
    tokensPerS: row.output_tokens_per_s == null ? '–' : formatNumber(row.output_tokens_per_s),
    ttft: row.ttft_ms_p50 == null ? '–' : `${formatNumber(row.ttft_ms_p50)} ms`,
    status: row.status
  };
}

export function formatNumber(value: number): string {
  if (Math.abs(value) >= 100) {
    return Math.round(value).toLocaleString('en-US');
  }
  return value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

function formatTime(created: string | null): string {
  if (!created) {
    return '–';
  }
  const date = new Date(created);
  if (isNaN(date.getTime())) {
    return created;
  }
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
