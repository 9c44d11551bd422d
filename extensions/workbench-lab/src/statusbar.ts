/**
 * The status-bar indicator: while a profiled cell runs, "● fmprofile <run> · 12.3 s · 41.9 tok/s · 57
 * samples" (the counters come from the kernel's live ticks; without them, the elapsed time only). A click
 * shows the cell's output. Hidden otherwise.
 */
import { NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { IProfiledCell, ProfileTracker } from './profile';
import { elapsedSeconds, formatStatus } from './status';

export class ProfileIndicator extends Widget {
  private _timer = 0;

  /** `panel`: only that notebook's cells (the toolbar form, where there is no status bar: Notebook 7). */
  constructor(
    private readonly _tracker: ProfileTracker,
    private readonly _show: (item: IProfiledCell) => void = revealOutput,
    private readonly _panel?: NotebookPanel
  ) {
    super();
    this.addClass('fmp-StatusIndicator');
    this.node.onclick = () => {
      const item = this._tracker.current(this._panel);
      if (item !== null) {
        this._show(item);
      }
    };
    _tracker.started.connect(() => this._render());
    _tracker.changed.connect(() => this._render());
    _tracker.finished.connect(() => this._render());
    this._render();
  }

  get running(): boolean {
    return this._tracker.current(this._panel) !== null;
  }

  dispose(): void {
    window.clearInterval(this._timer);
    super.dispose();
  }

  private _render(): void {
    const item = this._tracker.current(this._panel);
    this.node.classList.toggle('fmp-mod-running', item !== null);
    if (item === null) {
      window.clearInterval(this._timer);
      this._timer = 0;
      this.node.textContent = '';
      this.node.title = '';
      delete this.node.dataset.tokensPerS;
      delete this.node.dataset.samples;
      delete this.node.dataset.outputTokens;
      return;
    }
    if (this._timer === 0) {
      this._timer = window.setInterval(() => this._render(), 250);
    }
    const status = item.status ?? null;
    const elapsed = elapsedSeconds(item.started, status, item.received ?? 0, Date.now());
    const notebook = item.panel.title.label;
    const { text, title } = formatStatus(item.name ?? notebook, elapsed, status, notebook);
    this.node.textContent = text;
    this.node.title = title;
    if (status !== null) {
      this.node.dataset.tokensPerS = String(status.tokens_per_s);
      this.node.dataset.samples = String(status.samples);
      this.node.dataset.outputTokens = String(status.output_tokens);
    }
  }
}

/** Show the notebook and scroll the cell's output into view. */
export function revealOutput(item: IProfiledCell): void {
  const { panel, cell } = item;
  if (panel.isDisposed || cell.isDisposed) {
    return;
  }
  panel.content.activeCellIndex = panel.content.widgets.indexOf(cell);
  cell.outputArea.node.scrollIntoView({ block: 'center' });
}
