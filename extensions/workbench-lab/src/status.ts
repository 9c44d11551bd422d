/**
 * The status bar's live indicator as text: what the kernel sends on the `fmprofile_status` comm each live
 * tick (workbench/live_status.py) and how it is shown. Pure data, no DOM and no JupyterLab imports, so it
 * is unit-tested with Jest (test/status.test.ts).
 */
import { formatNumber } from './model';

export const MAGIC = '%%fmprofile';

/** Whether a cell's source runs under the magic (its first non-blank line is the magic's line). */
export function isProfiledSource(source: string): boolean {
  const first = source.trimStart().split('\n', 1)[0].trim();
  return first === MAGIC || first.startsWith(`${MAGIC} `) || first.startsWith(`${MAGIC}\t`);
}

/** The comm's target name; the kernel opens a comm to it when a profiled cell's live view starts. */
export const STATUS_TARGET = 'fmprofile_status';

/** One live tick's counters (a comm_msg's data). */
export interface ILiveStatus {
  elapsed_s: number;
  samples: number;
  output_tokens: number;
  tokens_per_s: number;
  requests: number;
  ttft_p50_ms: number | null;
  status: string;
  done: boolean;
}

/** What the comm_open's data says: the run's name and the cell it profiles. */
export interface IStatusOpen {
  name: string | null;
  cellId: string | null;
}

/** The comm_open data, tolerating missing or mistyped fields (an older or newer kernel side). */
export function parseOpen(data: unknown): IStatusOpen {
  const record = isRecord(data) ? data : {};
  return {
    name: typeof record.name === 'string' ? record.name : null,
    cellId: typeof record.cell_id === 'string' ? record.cell_id : null
  };
}

/** A tick's data, or null when it is not one (then the indicator keeps what it had). */
export function parseStatus(data: unknown): ILiveStatus | null {
  if (!isRecord(data) || !isNumber(data.elapsed_s)) {
    return null;
  }
  const number = (key: string) => (isNumber(data[key]) ? (data[key] as number) : 0);
  return {
    elapsed_s: data.elapsed_s as number,
    samples: number('samples'),
    output_tokens: number('output_tokens'),
    tokens_per_s: number('tokens_per_s'),
    requests: number('requests'),
    ttft_p50_ms: isNumber(data.ttft_p50_ms) ? (data.ttft_p50_ms as number) : null,
    status: typeof data.status === 'string' ? data.status : 'running',
    done: data.done === true
  };
}

/** Elapsed time: "12.3 s" under a minute, then "2:05" (and "1:02:05"). */
export function formatElapsed(seconds: number): string {
  const s = Math.max(0, seconds);
  if (s < 60) {
    return `${s.toFixed(1)} s`;
  }
  const whole = Math.floor(s);
  const pad = (n: number) => String(n).padStart(2, '0');
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  return hours > 0 ? `${hours}:${pad(minutes)}:${pad(whole % 60)}` : `${minutes}:${pad(whole % 60)}`;
}

function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/**
 * The indicator's text and tooltip. `status` is the latest tick (null before the first one, or when the
 * kernel sends none: --quiet, --repeat, --sweep, no jupyter_bokeh); tokens/s appears once tokens came.
 */
export function formatStatus(
  label: string,
  elapsedS: number,
  status: ILiveStatus | null,
  notebook = ''
): { text: string; title: string } {
  const parts = [`● fmprofile ${label}`, formatElapsed(elapsedS)];
  const details = [`${label}${notebook && notebook !== label ? ` in ${notebook}` : ''}: ${formatElapsed(elapsedS)}`];
  if (status !== null) {
    if (status.output_tokens > 0) {
      parts.push(`${formatNumber(status.tokens_per_s)} tok/s`);
      details.push(`${formatCount(status.output_tokens)} output tokens, ${formatNumber(status.tokens_per_s)} tokens/s`);
      if (status.requests > 0) {
        const ttft = status.ttft_p50_ms === null ? '' : `, TTFT p50 ${formatNumber(status.ttft_p50_ms)} ms`;
        details.push(`${formatCount(status.requests)} LLM request${status.requests === 1 ? '' : 's'}${ttft}`);
      }
    }
    const plural = status.samples === 1 ? '' : 's';
    parts.push(`${formatCount(status.samples)} sample${plural}`);
    details.push(`${formatCount(status.samples)} live CPU sample${plural}`);
    if (status.done) {
      details.push(status.status);
    }
  }
  return {
    text: parts.join(' · '),
    title: `Profiling ${details.join('; ')}. Click to show the cell's output.`
  };
}

/** Seconds since the cell started: the kernel's clock at its last tick, plus the time since it came. */
export function elapsedSeconds(startedMs: number, status: ILiveStatus | null, receivedMs: number, nowMs: number): number {
  if (status === null) {
    return (nowMs - startedMs) / 1000;
  }
  return status.done ? status.elapsed_s : status.elapsed_s + Math.max(0, nowMs - receivedMs) / 1000;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNumber(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value);
}
