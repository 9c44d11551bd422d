// The status bar's live indicator text: `npm test` (Jest).
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

describe('the live status text', () => {
  it('elapsed, tokens/s and samples, compact', () => {
    const { text, title } = formatStatus('rag-v1', 12.34, tick(), 'lab.ipynb');
    expect(text).toBe('● fmprofile rag-v1 · 12.3 s · 41.9 tok/s · 1,234 samples');
    expect(title).toMatch(/^Profiling rag-v1 in lab\.ipynb: 12\.3 s; 60 output tokens, 41\.9 tokens\/s; 2 LLM requests, TTFT p50 8\.25 ms; 1,234 live CPU samples\. Click/);
  });

  it('no tokens yet: no tokens/s; no tick yet: the elapsed time only', () => {
    expect(formatStatus('run', 0.5, tick({ output_tokens: 0, tokens_per_s: 0, samples: 3 })).text).toBe('● fmprofile run · 0.5 s · 3 samples');
    expect(formatStatus('lab.ipynb', 3, null).text).toBe('● fmprofile lab.ipynb · 3.0 s');
    expect(formatStatus('run', 1, tick({ samples: 1 })).text).toMatch(/ 1 sample$/);
    expect(formatStatus('run', 1, tick({ requests: 1, ttft_p50_ms: null })).title).toContain('1 LLM request;');
    expect(formatStatus('run', 1, tick({ done: true, status: 'finished' })).title).toContain('finished');
  });

  it('tokens/s keep three significant digits; large rates are whole numbers', () => {
    expect(formatStatus('r', 1, tick({ tokens_per_s: 4.256 })).text).toMatch(/ 4\.26 tok\/s /);
    expect(formatStatus('r', 1, tick({ tokens_per_s: 1234.4 })).text).toMatch(/ 1,234 tok\/s /);
  });

  it('elapsed under a minute in seconds, then minutes and hours', () => {
    expect(formatElapsed(0)).toBe('0.0 s');
    expect(formatElapsed(-1)).toBe('0.0 s');
    expect(formatElapsed(59.94)).toBe('59.9 s');
    expect(formatElapsed(125.7)).toBe('2:05');
    expect(formatElapsed(3725)).toBe('1:02:05');
  });

  it('elapsed runs on between ticks from the kernel clock, and stops at the last one', () => {
    expect(elapsedSeconds(1000, null, 0, 3500)).toBe(2.5);
    expect(elapsedSeconds(0, tick({ elapsed_s: 2 }), 10_000, 10_300)).toBe(2.3);
    expect(elapsedSeconds(0, tick({ elapsed_s: 2, done: true }), 10_000, 19_000)).toBe(2);
    expect(elapsedSeconds(0, tick({ elapsed_s: 2 }), 10_000, 9_000)).toBe(2); // clocks never run back
  });
});

describe('comm messages and cells', () => {
  it('comm data is checked field by field', () => {
    expect(parseStatus(null)).toBeNull();
    expect(parseStatus({ samples: 3 })).toBeNull();
    expect(parseStatus([1])).toBeNull();
    expect(parseStatus({ elapsed_s: 1, samples: 'x', tokens_per_s: Infinity, done: 1 })).toEqual({
      elapsed_s: 1, samples: 0, output_tokens: 0, tokens_per_s: 0, requests: 0, ttft_p50_ms: null,
      status: 'running', done: false
    });
    expect(parseStatus(tick())).toEqual(tick());
    expect(parseOpen({ version: 1, name: 'rag', cell_id: 'c1' })).toEqual({ name: 'rag', cellId: 'c1' });
    expect(parseOpen(undefined)).toEqual({ name: null, cellId: null });
  });

  it('a cell is profiled when its first line is the magic', () => {
    expect(isProfiledSource('%%fmprofile\nx = 1')).toBe(true);
    expect(isProfiledSource('\n  %%fmprofile --name a\nx')).toBe(true);
    expect(isProfiledSource('%%fmprofile\t--quiet')).toBe(true);
    expect(isProfiledSource('%%fmprofile_compare a b')).toBe(false);
    expect(isProfiledSource('x = 1\n%%fmprofile')).toBe(false);
  });
});
