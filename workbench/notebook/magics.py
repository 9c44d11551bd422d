"""`%load_ext workbench` and `%%fmprofile`: a thin adapter from IPython to a `ProfileSession`.

The `%%fmprofile ARGS` line is replaced, by an input transformer, with one line that starts the session;
the body then runs as the cell itself, so top-level `await`, the displayed last value, `%` and `!` lines,
error status and traceback line numbers are exactly those of the cell without the magic. A
`post_run_cell` handler stops the session, saves the run and shows the dashboard, also when the cell
raised or was interrupted.
"""

from __future__ import annotations

import contextlib
import linecache
import shlex
import sys
import threading
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.display import display

from workbench.model.run import Run
from workbench.notebook.cell_body import CellBody
from workbench.notebook.cell_loop import profile_repeated, profile_sweep
from workbench.notebook.live_view import DeferredLiveView, LiveView, live_supported
from workbench.notebook.note_magic import NoteMagics
from workbench.notebook.runs_magic import RunsMagics
from workbench.notebook.shown_runs import remember
from workbench.options import OptionsError, ProfileOptions, parse_options, profile_parser
from workbench.session import ProfileSession
from workbench.session.live.updater import LiveStats

MAGIC = "%%fmprofile"
_BEGIN_CALL = (
    "__import__('workbench.notebook.magics', fromlist=['begin_cell_profile']).begin_cell_profile({args!r})\n"
)
# --repeat / --sweep: the body runs several times, so it cannot stay the cell; the whole cell becomes this
# one call, which compiles the body and execs it in the user namespace per run (see `cell_body`). Its value
# (the body's last expression, from the last run) is the cell's value.
_LOOP_CALL = (
    "__import__('workbench.notebook.magics', fromlist=['run_cell_loop']).run_cell_loop({args!r}, {body!r})\n"
)


class CellProfiler:
    """The kernel's profiling state: the session of the cell now running, if any."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.session: ProfileSession | None = None
        self.raw_cell = ""
        # The live dashboard of the running cell (single runs only; --repeat/--sweep show no live view).
        self.live: DeferredLiveView | None = None
        self.last_live_stats: LiveStats | None = None

    def transform(self, lines: list[str]) -> list[str]:
        """IPython cleanup transformer: swap a leading `%%fmprofile ARGS` line for the session start."""
        if not lines:
            return lines
        first = lines[0].strip()
        if not _is_magic_line(first) or first.endswith("?"):
            return lines
        args = first[len(MAGIC) :].strip()
        try:
            options = parse_options(args)
        except OptionsError as error:
            raise UsageError(f"%%fmprofile: {error}") from None
        if options.repeat is not None or options.sweep:
            return [_LOOP_CALL.format(args=args, body="".join(lines[1:]))]
        return [_BEGIN_CALL.format(args=args), *lines[1:]]

    def pre_run_cell(self, info: Any) -> None:
        self.raw_cell = getattr(info, "raw_cell", "") or ""

    def begin(self, args: str, cell_file: str) -> None:
        if self.session is not None:
            self._finish(self.session, None)
        first_line, _, body = self.raw_cell.lstrip("\n").partition("\n")
        _show_magic_line_in_tracebacks(cell_file, first_line)
        options = parse_options(args)
        self.session = self.start_session(options, body)
        if self.session is not None and not options.quiet and live_supported(self.shell):
            self.live = DeferredLiveView(self.session)

    def start_session(self, options: ProfileOptions, body: str) -> ProfileSession | None:
        session = ProfileSession(options, cell_source=body, main_thread_id=threading.get_ident())
        try:
            session.start()
        except Exception as error:
            print(
                f"workbench: profiling is off for this cell ({type(error).__name__}: {error})",
                file=sys.stderr,
            )
            return None
        session.print_notices()
        return session

    def finish_session(self, session: ProfileSession, error: BaseException | None) -> Run:
        return self._finish(session, error)

    def run_loop(self, options: ProfileOptions, body: CellBody) -> Any:
        """--repeat / --sweep (see `cell_loop`); the value the cell shows."""
        __tracebackhide__ = True  # IPython leaves this frame out of tracebacks
        if self.session is not None:
            self._finish(self.session, None)
        if options.sweep:
            profile_sweep(self, body, options)
            return None
        return profile_repeated(self, body, options)

    def post_run_cell(self, result: Any) -> None:
        session, self.session = self.session, None
        if session is None:
            return
        error = None
        if result is not None:
            error = result.error_in_exec or result.error_before_exec
        else:
            error = KeyboardInterrupt()
        self._finish(session, error)

    def _finish(self, session: ProfileSession, error: BaseException | None) -> Run:
        self.session = None
        deferred, self.live = self.live, None
        live = deferred.settle() if deferred is not None else None
        if live is not None:
            live.stop()  # before the session stops: the updater reads the recording that stop() completes
            self.last_live_stats = live.stats
        run = session.stop(error)
        show_run(run, session.options, live, deferred.slot if deferred is not None else None)
        show_budget(run)
        session.print_notices()
        return run


def _show_magic_line_in_tracebacks(cell_file: str, magic_line: str) -> None:
    """Tracebacks quote the cell from linecache, which holds the transformed code: put the user's
    `%%fmprofile` line back in place of the session-start call."""
    entry = linecache.cache.get(cell_file)
    if entry is None or len(entry) != 4 or not entry[2] or not _is_magic_line(magic_line.strip()):
        return
    size, mtime, lines, fullname = entry
    linecache.cache[cell_file] = (size, mtime, [magic_line + "\n", *lines[1:]], fullname)


def _is_magic_line(line: str) -> bool:
    return line == MAGIC or line.startswith((MAGIC + " ", MAGIC + "\t"))


def show_run(run: Run, options: ProfileOptions, live: LiveView | None = None, slot: Any = None) -> None:
    """The final output; in the live view's place when there was one, so no widget stays behind, else in
    the cell's reserved `slot` (a display handle) when there is one."""
    from workbench.notebook.bokehjs_carrier import carry_bokehjs
    from workbench.render import notebook_bundle, summary_line

    if options.quiet:
        print(f"{summary_line(run)}  [saved: {run.path}]")
        return
    try:
        carried = carry_bokehjs()
        bundle = notebook_bundle(run, carry_bokehjs=carried)
    except Exception as error:
        print(f"{summary_line(run)}  [dashboard failed: {error}; saved: {run.path}]", file=sys.stderr)
        if live is not None:
            live.replace({"text/plain": summary_line(run)})
        elif slot is not None:
            slot.update({"text/plain": summary_line(run)}, raw=True)
        return
    if live is not None:
        live.replace(bundle)
        remember(run.id, live.handle, carried)
    elif slot is not None:
        slot.update(bundle, raw=True)
        remember(run.id, slot, carried)
    else:
        remember(run.id, display(bundle, raw=True, display_id=True), carried)  # type: ignore[no-untyped-call]


def show_budget(run: Run) -> None:
    """The pass/FAIL table under the dashboard, when the run had a budget (information, never an error)."""
    from workbench.session.budget_check import table_of

    record = run.metrics.get("budget")
    if isinstance(record, dict):
        print(table_of(record))


@magics_class
class FmprofileMagics(Magics):
    def __init__(self, shell: Any, profiler: CellProfiler) -> None:
        super().__init__(shell)
        self.profiler = profiler

    @cell_magic
    def fmprofile(self, line: str, cell: str) -> Any:
        # Reached only when the transformer did not rewrite the cell, e.g. through run_cell_magic().
        try:
            options = parse_options(line)
        except OptionsError as error:
            raise UsageError(f"%%fmprofile: {error}") from None
        if options.repeat is not None or options.sweep:
            shell = self.profiler.shell
            filename = shell.compile.cache(cell, shell.execution_count, raw_code=cell)
            return self.profiler.run_loop(options, CellBody(shell, cell, filename))
        session = ProfileSession(options, cell_source=cell, main_thread_id=threading.get_ident())
        session.start()
        session.print_notices()
        result = None
        try:
            result = self.profiler.shell.run_cell(cell, store_history=False)
        finally:
            failure = None if result is None else (result.error_in_exec or result.error_before_exec)
            self.profiler._finish(session, failure)


FmprofileMagics.fmprofile.__doc__ = (
    "Profile the cell: CPU flame graph (py-spy), LLM token metrics and spans on one clock.\n\n"
    + profile_parser().format_help()
)


@magics_class
class CompareMagics(Magics):
    @line_magic
    def fmprofile_compare(self, line: str) -> None:
        """%fmprofile_compare A B [--store DIR]: compare run B with run A (ids, names, or -1/-2)."""
        from workbench.render.diff_report import diff_bundle
        from workbench.saved.compare import compare

        try:
            a, b, store = _compare_args(line)
            diff = compare(a, b, store)
        except (LookupError, OSError, ValueError) as error:
            raise UsageError(f"%fmprofile_compare: {error}") from None
        display(diff_bundle(diff), raw=True)  # type: ignore[no-untyped-call]


def _compare_args(line: str) -> tuple[str, str, str | None]:
    words = shlex.split(line)
    store = None
    if "--store" in words:
        at = words.index("--store")
        if at + 1 >= len(words):
            raise ValueError("--store needs a directory")
        store = words[at + 1]
        del words[at : at + 2]
    if len(words) != 2:
        raise ValueError(f"expected two runs, A and B (ids, names, or -1/-2), got {len(words)}: {line!r}")
    return words[0], words[1], store


_profiler: CellProfiler | None = None


def begin_cell_profile(args: str) -> None:
    """Called from the first line of a `%%fmprofile` cell (written there by the transformer)."""
    if _profiler is not None:
        _profiler.begin(args, sys._getframe(1).f_code.co_filename)


def run_cell_loop(args: str, body: str) -> Any:
    """The whole of a `%%fmprofile --repeat/--sweep` cell (written there by the transformer)."""
    __tracebackhide__ = True  # IPython leaves this frame out of tracebacks
    if _profiler is None:
        raise UsageError("%%fmprofile: the workbench extension is not loaded (%load_ext workbench)")
    options = parse_options(args)
    magic_line = f"{MAGIC} {args}".rstrip()
    cell = CellBody(_profiler.shell, body, sys._getframe(1).f_code.co_filename, 2, magic_line)
    return _profiler.run_loop(options, cell)


def load_ipython_extension(shell: Any) -> None:
    global _profiler
    if _profiler is not None:
        unload_ipython_extension(_profiler.shell)
    profiler = CellProfiler(shell)
    shell.input_transformers_cleanup.append(profiler.transform)
    shell.events.register("pre_run_cell", profiler.pre_run_cell)
    shell.events.register("post_run_cell", profiler.post_run_cell)
    shell.register_magics(FmprofileMagics(shell, profiler))
    shell.register_magics(CompareMagics(shell))
    shell.register_magics(NoteMagics(shell))
    shell.register_magics(RunsMagics(shell))
    _profiler = profiler


def unload_ipython_extension(shell: Any) -> None:
    global _profiler
    profiler = _profiler
    if profiler is None:
        return
    if profiler.transform in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.remove(profiler.transform)
    for event, handler in (
        ("pre_run_cell", profiler.pre_run_cell),
        ("post_run_cell", profiler.post_run_cell),
    ):
        with contextlib.suppress(ValueError):
            shell.events.unregister(event, handler)
    _profiler = None
