/**
 * FM Workbench in JupyterLab: the "Profile cell" command (toolbar button, cell context menu, command
 * palette, Alt+P in a notebook), the Runs sidebar and the status-bar indicator. The server side is the
 * `workbench.server_ext` Jupyter Server extension. In Notebook 7 (no ILabShell, no IStatusBar) the
 * command, button and a live indicator in the notebook's toolbar work; the sidebar needs JupyterLab's left
 * area.
 */
import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, IFrame, MainAreaWidget, ToolbarButton } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';
import { LabIcon } from '@jupyterlab/ui-components';

import { provideBokehJS, withTimeout } from './bokehjs';
import { keepBusyWhileExecuting } from './busy';
import { listenForNotes } from './notes';
import { IProfiledCell, profileActiveCell, ProfileTracker } from './profile';
import { RunsPanel } from './sidebar';
import { ProfileIndicator, revealOutput } from './statusbar';
import { watchProfiledCells } from './watch';

const COMMAND = 'fmprofile:profile-cell';
const OPEN_RUNS = 'fmprofile:open-runs';
// A flame: three stacked bars of decreasing width, as the CPU flame graph draws them.
const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">
  <g class="jp-icon3" fill="#616161"><rect x="1" y="11" width="14" height="3" rx="0.5"/>
  <rect x="2" y="7" width="9" height="3" rx="0.5"/><rect x="3" y="3" width="5" height="3" rx="0.5"/></g></svg>`;
export const profileIcon = new LabIcon({ name: 'fm-workbench-lab:profile', svgstr: ICON_SVG });

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'fm-workbench-lab:plugin',
  description: 'Profile a cell in one click, browse and compare saved runs, live status.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette, ILabShell, IStatusBar],
  activate: async (
    app: JupyterFrontEnd,
    notebooks: INotebookTracker,
    palette: ICommandPalette | null,
    labShell: ILabShell | null,
    statusBar: IStatusBar | null
  ) => {
    // Before the notebooks are restored: their dashboards and live widgets need it (bokehjs.ts).
    await withTimeout(provideBokehJS(), 5000, null);
    const tracker = new ProfileTracker();
    const current = (): NotebookPanel | null => notebooks.currentWidget;
    // `%%fmprofile` cells run as usual, and the kernel's live counters (the fmprofile_status comm).
    watchProfiledCells(notebooks, tracker);
    // Notes typed into a dashboard's note field, saved by the notebook's kernel.
    listenForNotes(notebooks);
    const showOutput = (item: IProfiledCell) => {
      app.shell.activateById(item.panel.id);
      revealOutput(item);
    };

    app.commands.addCommand(COMMAND, {
      label: 'Profile Cell',
      caption: 'Run the active cell under %%fmprofile (the cell text is not changed)',
      icon: profileIcon,
      isEnabled: () => current()?.content.activeCell?.model.type === 'code' && tracker.running === null,
      execute: async () => {
        const panel = current();
        return panel ? profileActiveCell(panel, tracker) : false;
      }
    });
    app.commands.addKeyBinding({ command: COMMAND, keys: ['Alt P'], selector: '.jp-Notebook' });
    app.contextMenu.addItem({ command: COMMAND, selector: '.jp-Notebook .jp-CodeCell', rank: 0 });
    palette?.addItem({ command: COMMAND, category: 'FM Workbench' });

    notebooks.widgetAdded.connect((_, panel) => {
      keepBusyWhileExecuting(panel.sessionContext.session?.kernel);
      panel.sessionContext.kernelChanged.connect((__, change) => keepBusyWhileExecuting(change.newValue));
      const button = new ToolbarButton({
        icon: profileIcon,
        label: 'Profile',
        tooltip: 'Profile cell (Alt+P): run it under %%fmprofile',
        className: 'fmp-ProfileButton',
        onClick: () => void app.commands.execute(COMMAND)
      });
      panel.toolbar.insertAfter('run', 'fmprofile', button) || panel.toolbar.addItem('fmprofile', button);
      if (!statusBar) {
        // No status bar (Notebook 7): the live indicator of this notebook's cells sits in its toolbar.
        const indicator = new ProfileIndicator(tracker, showOutput, panel);
        panel.toolbar.insertAfter('fmprofile', 'fmprofile-status', indicator) ||
          panel.toolbar.addItem('fmprofile-status', indicator);
        panel.disposed.connect(() => indicator.dispose());
      }
    });
    tracker.started.connect(() => app.commands.notifyCommandChanged(COMMAND));

    const openPage = (url: string, title: string) => {
      const frame = new IFrame({ sandbox: ['allow-scripts'] });
      frame.url = url;
      frame.addClass('fmp-ReportFrame');
      const widget = new MainAreaWidget({ content: frame });
      widget.id = `fmprofile-page-${Date.now()}`;
      widget.title.label = title;
      widget.title.closable = true;
      widget.title.icon = profileIcon;
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
    };
    // The sidebar lists the store beside the current notebook (the one the kernel writes, by default).
    const folder = () => {
      const panel = current();
      return panel ? PathExt.dirname(panel.context.path) : '';
    };
    const runs = new RunsPanel({ folder, openPage });
    runs.title.icon = profileIcon;
    if (labShell) {
      labShell.add(runs, 'left', { rank: 600 });
      notebooks.currentChanged.connect(() => runs.isVisible && void runs.refresh(true));
    }
    tracker.finished.connect(() => {
      app.commands.notifyCommandChanged(COMMAND);
      void runs.refresh(true);
    });
    app.commands.addCommand(OPEN_RUNS, {
      label: 'Show Profiled Runs',
      execute: () => app.shell.activateById(runs.id)
    });
    palette?.addItem({ command: OPEN_RUNS, category: 'FM Workbench' });

    if (statusBar) {
      const indicator = new ProfileIndicator(tracker, showOutput);
      statusBar.registerStatusItem('fm-workbench-lab:status', {
        item: indicator,
        align: 'left',
        rank: 4,
        isActive: () => true
      });
    }
  }
};

export default plugin;
