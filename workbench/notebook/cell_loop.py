"""`--repeat` and `--sweep`: run a cell body (`CellBody`) several times, under one session or one per
configuration. The magic supplies how a session starts and how a finished one is shown (`CellRunner`).

- Repeat: K warm-ups run first, outside the session (executed, not recorded); then one session records N
  repetitions, each a span of kind "repetition" ("rep 1".."rep N") under the cell span. An exception
  stops the loop, the partial run is saved and shown, and the exception reaches the user unchanged.
- Sweep: for each configuration (cartesian product of the values) the names are bound in the user
  namespace and the body runs (with its warm-ups and repetitions, if asked) in a session of its own: a
  configuration run whose `parent` is the sweep run. Afterwards the names get their previous values back
  (names that did not exist are removed), also after an exception.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, Protocol

from workbench.analysis.repeat import REPETITION_KIND
from workbench.analysis.sweep import configurations
from workbench.api import span
from workbench.model.run import Run
from workbench.notebook.cell_body import CellBody
from workbench.options import ProfileOptions
from workbench.session import ProfileSession
from workbench.session.sweep_run import SweepRun

_MISSING = object()


class CellRunner(Protocol):
    def start_session(self, options: ProfileOptions, body: str) -> ProfileSession | None: ...

    def finish_session(self, session: ProfileSession, error: BaseException | None) -> Run: ...


def run_repetitions(
    body: CellBody, repeat: int | None, warmup: int, on_start: Callable[[], None] | None = None
) -> Any:
    """Warm-ups (before `on_start()`, which starts recording), then the repetitions; the last value."""
    __tracebackhide__ = True  # IPython leaves this frame out of tracebacks
    for _ in range(warmup):
        body.run()
    if on_start is not None:
        on_start()
    if repeat is None:
        return body.run()
    value = None
    for index in range(1, repeat + 1):
        with span(f"rep {index}", kind=REPETITION_KIND, index=index):
            value = body.run()
    return value


def profile_repeated(runner: CellRunner, body: CellBody, options: ProfileOptions) -> Any:
    """`%%fmprofile --repeat N [--warmup K]`: one run with N repetitions; returns the last value."""
    __tracebackhide__ = True  # IPython leaves this frame out of tracebacks
    sessions: list[ProfileSession] = []

    def start() -> None:
        session = runner.start_session(options, body.source)
        if session is not None:
            sessions.append(session)

    error: BaseException | None = None
    try:
        return run_repetitions(body, options.repeat, options.warmup, start)
    except BaseException as caught:
        error = caught
        raise
    finally:
        for session in sessions:
            runner.finish_session(session, error)


def profile_sweep(runner: CellRunner, body: CellBody, options: ProfileOptions) -> Run:
    """`%%fmprofile --sweep NAME=V1,V2,...`: a configuration run per combination; returns the sweep run."""
    __tracebackhide__ = True  # IPython leaves this frame out of tracebacks
    sweep = SweepRun(options, body.source)
    error: BaseException | None = None
    try:
        with bound_names(body.shell.user_ns, list(options.sweep or {})):
            for config in configurations(options.sweep or {}):
                body.shell.user_ns.update(config)
                _profile_configuration(runner, body, options, sweep, config)
    except BaseException as caught:
        error = caught
        raise
    finally:
        run, problems = sweep.finish(error)
        for problem in problems:
            print(f"workbench: {problem}", file=sys.stderr)
        show_sweep(run, quiet=options.quiet)
    return run


def _profile_configuration(
    runner: CellRunner, body: CellBody, options: ProfileOptions, sweep: SweepRun, config: dict[str, Any]
) -> None:
    __tracebackhide__ = True  # IPython leaves this frame out of tracebacks
    child_options = dataclasses.replace(options, name=sweep.child_name(config), sweep=None, quiet=True)
    sessions: list[ProfileSession] = []
    start_ns = sweep.clock.now_ns()

    def start() -> None:
        session = runner.start_session(child_options, body.source)
        if session is not None and session.run is not None:
            session.run.parent = sweep.run.id
            session.run.options["sweep"] = dict(config)
            sessions.append(session)

    error: BaseException | None = None
    try:
        run_repetitions(body, options.repeat, options.warmup, start)
    except BaseException as caught:
        error = caught
        raise
    finally:
        for session in sessions:
            sweep.add(config, runner.finish_session(session, error), start_ns)


@contextmanager
def bound_names(namespace: MutableMapping[str, Any], names: list[str]) -> Iterator[None]:
    """Restore `names` in `namespace` on the way out: previous values back, new names removed."""
    saved = {name: namespace.get(name, _MISSING) for name in names}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is _MISSING:
                namespace.pop(name, None)
            else:
                namespace[name] = value


def show_sweep(run: Run, quiet: bool = False) -> None:
    """The sweep's table and scatter under the cell (the table as text with --quiet)."""
    from IPython.display import display

    from workbench.render.sweep_report import sweep_bundle, sweep_text

    if quiet:
        print(sweep_text(run))
        return
    try:
        display(sweep_bundle(run), raw=True)  # type: ignore[no-untyped-call]
    except Exception as error:
        print(sweep_text(run), file=sys.stderr)
        print(f"workbench: the sweep plot failed: {error}", file=sys.stderr)
