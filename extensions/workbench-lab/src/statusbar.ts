/**
 * The status-bar indicator: while a profiled cell runs, "fmprofile <name> 12.3 s"; a click scrolls to the
 * cell's output. Hidden otherwise.
 */
import { Widget } from '@lumino/widgets';

import { IProfiledCell, ProfileTracker } from './profile';

export class ProfileIndicator extends Widget {
  private _timer = 0;
  private _item: IProfiledCell | null = null;

  constructor(tracker: ProfileTracker) {
    super();
    this.addClass('fmp-StatusIndicator');
    this.node.title = 'A cell is being profiled: click to show its output';
    this.node.onclick = () => this._reveal();
    tracker.started.connect((_, item) => this._start(item));
    tracker.finished.connect((_, item) => this._stop(item));
    this._render();
  }

  get running(): boolean {
    return this._item !== null;
  }

  private _start(item: IProfiledCell): void {
    this._item = item;
    window.clearInterval(this._timer);
    this._timer = window.setInterval(() => this._render(), 250);
    this._render();
  }

  private _stop(item: IProfiledCell): void {
    if (this._item === item) {
      this._item = null;
      window.clearInterval(this._timer);
      this._render();
    }
  }

  private _render(): void {
    const item = this._item;
    this.node.classList.toggle('fmp-mod-running', item !== null);
    if (item === null) {
      this.node.textContent = '';
      return;
    }
    const elapsed = ((Date.now() - item.started) / 1000).toFixed(1);
    this.node.textContent = `● fmprofile ${item.panel.title.label} · ${elapsed} s`;
  }

  private _reveal(): void {
    const item = this._item;
    if (item !== null) {
      item.panel.content.activeCellIndex = item.panel.content.widgets.indexOf(item.cell);
      item.cell.outputArea.node.scrollIntoView({ block: 'center' });
    }
  }
}
