"""The `workbench` command: list, show, export, import and record runs."""

from __future__ import annotations

import argparse
import os
import runpy
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from workbench.model.run import Run
from workbench.options import add_profile_options, from_namespace, profile_parser
from workbench.render.terminal import escaped_output
from workbench.serve.arguments import add_serve_options, config_from_namespace
from workbench.store import CorruptRunError, list_runs, load_run, resolve_key
from workbench.store.listing import listed_row

DEBUG_ENV = "WORKBENCH_DEBUG"
EXPORT_FORMATS = {"perfetto": "trace.json", "speedscope": "cpu.speedscope.json", "html": "report.html"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="FM Workbench: profile foundation-model software; list, show and export saved runs.",
        epilog="Profile options (shared with the %%fmprofile magic):\n"
        + "\n".join(profile_parser("").format_help().splitlines()[2:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--store",
        dest="global_store",
        type=Path,
        help="run store (default: $WORKBENCH_STORE or ./.fmprofile)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    runs = commands.add_parser("runs", help="list saved runs")
    runs.add_argument(
        "--name", dest="history_name", metavar="NAME", help="runs of this name in time order, with metrics"
    )
    show = commands.add_parser("show", help="print a run's summary")
    show.add_argument("run", help="run id, id prefix, name, or directory")
    show.add_argument(
        "--findings", action="store_true", help="print every finding with its evidence (not the summary)"
    )
    commands.add_parser("findings", help="list the kinds of finding the rules report (for --ignore-finding)")
    export = commands.add_parser("export", help="export a run for Perfetto, speedscope or a browser")
    export.add_argument("run", help="run id, id prefix, name, or directory")
    export.add_argument("--format", choices=sorted([*EXPORT_FORMATS, "otlp"]), required=True)
    export.add_argument(
        "-o", "--output", type=Path, help="output file (default: the file in the run directory)"
    )
    export.add_argument(
        "--endpoint",
        type=_otlp_endpoint,
        metavar="URL",
        help="--format otlp: the OTLP/HTTP base URL, /v1/traces and /v1/metrics appended "
        "(default: $OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4318)",
    )
    record = commands.add_parser("profile", help="run a Python script under the profiler and save the run")
    add_profile_options(record)
    record.add_argument("script", help="the Python script to run")
    record.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    imported = commands.add_parser(
        "import", help="save a torch.profiler (Kineto) trace, .json or .json.gz, as a run"
    )
    imported.add_argument(
        "trace",
        type=Path,
        nargs="+",
        help="the trace file (e.g. from export_chrome_trace); several files, a directory or a glob: the "
        "ranks of one job, as one run",
    )
    imported.add_argument("--name", help="a name for the run (default: the file's name)")
    imported.add_argument(
        "--workers", type=int, default=None, help="processes parsing ranks in parallel (default: one per CPU)"
    )
    add_check_command(commands)
    add_compare_command(commands)
    add_note_command(commands)
    serve = commands.add_parser(
        "serve", help="run a local OpenAI-compatible streaming server in the foreground (demos, tests)"
    )
    add_serve_options(serve)
    serve.set_defaults(serve_parser=serve)
    return parser


def _load(key: str, store: Path | None) -> Run:
    """A saved run by directory, id, id prefix, name, or -1 (the latest), -2, ..."""
    return load_run(resolve_key(key, store))


def cmd_runs(store: Path | None) -> int:
    rows = list_runs(store)
    if not rows:
        print("no runs saved yet (profile a cell with %%fmprofile, or run `workbench profile script.py`)")
        return 0
    print(f"{'id':24} {'name':20} {'created':26} {'status':10} {'wall_s':>8} {'tokens':>7} {'ttft_p50':>9}")
    for meta in rows:
        row = listed_row(meta)
        if row["status"] == "corrupt":
            print(f"{row['id']:24} (unreadable: {meta['load_error']})")
            continue
        print(
            f"{row['id']:24} {str(row['name'])[:20]:20} {row['created'] or '':26} {row['status']:10} "
            f"{_num(row['wall_s'], '.3f'):>8} {_num(row['output_tokens'] or 0, 'd'):>7} "
            f"{_num(row['ttft_ms_p50'], '.1f'):>9}"
        )
    return 0


def cmd_history(name: str, store: Path | None) -> int:
    from workbench.store.history import history

    table = history(name, store)
    if table.empty:
        print(f"no runs named {name!r} (list them all with `workbench runs`)")
        return 0
    header = ("id", "created", "wall_s", "tok/s", "ttft_p50", "ttft_p90", "budget")
    print(f"{header[0]:24} {header[1]:26} " + " ".join(f"{h:>8}" for h in header[2:]))
    for row in table.to_dict("records"):
        passed = row["budget_passed"]
        budget = "-" if not isinstance(passed, bool) else "pass" if passed else "FAIL"
        numbers = [
            _num(row["wall_s"], ".3f"),
            _num(row["output_tokens_per_s"], ".1f"),
            _num(row["ttft_ms_p50"], ".1f"),
            _num(row["ttft_ms_p90"], ".1f"),
            budget,
        ]
        print(f"{row['id']!s:24} {row['created']!s:26} " + " ".join(f"{n:>8}" for n in numbers))
    return 0


def _num(value: object, spec: str) -> str:
    """A number as `spec` formats it; "-" for None, NaN, or anything else a hand-edited run.json holds."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
        return format(int(value) if spec == "d" else value, spec)
    return "-"


def add_check_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = commands.add_parser(
        "check",
        help="check a saved run against budgets; exit 0 when all pass, 1 when one fails, 2 on usage errors",
    )
    check.add_argument("run", help="run id, id prefix, name, directory, or -1 (the latest run)")
    check.add_argument(
        "--budget", required=True, metavar="BUDGETS", help="e.g. 'ttft_ms.p90<=250, e2e_ms.p50<=+10%%'"
    )
    check.add_argument(
        "--baseline", metavar="RUN", help="the run relative budgets compare with (-1: the run before RUN)"
    )


def cmd_check(namespace: argparse.Namespace, store: Path | None) -> int:
    from workbench.analysis.budget import BudgetError, parse_budget
    from workbench.session.budget_check import check_run, table_of
    from workbench.store import resolve_key

    try:
        budgets = parse_budget(namespace.budget)
    except BudgetError as error:
        print(f"workbench: error: {error}", file=sys.stderr)
        return 2
    if namespace.baseline is None and any(b.relative for b in budgets):
        relative = ", ".join(str(b) for b in budgets if b.relative)
        print(f"workbench: error: relative budgets ({relative}) need --baseline RUN", file=sys.stderr)
        return 2
    run = load_run(resolve_key(namespace.run, store))
    if namespace.baseline is not None:
        load_run(resolve_key(namespace.baseline, store, before=run.id))  # unknown baseline: exit 2
    _, record = check_run(run, namespace.budget, namespace.baseline, store)
    print(f"{run.name} {run.id}")
    print(table_of(record))
    return 0 if record["passed"] else 1


def add_compare_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    compare = commands.add_parser("compare", help="compare run B with run A (the baseline)")
    compare.add_argument("a", metavar="A", help="baseline run: id, id prefix, name, directory, or -1/-2")
    compare.add_argument("b", metavar="B", help="run compared with A (same forms)")
    compare.add_argument("--html", type=Path, metavar="OUT", help="also write the compare report to OUT")


def cmd_compare(namespace: argparse.Namespace, store: Path | None) -> int:
    from workbench.render.diff_report import diff_html, diff_text
    from workbench.saved.compare import compare

    diff = compare(namespace.a, namespace.b, store)
    print(diff_text(diff))
    if namespace.html is not None:
        namespace.html.parent.mkdir(parents=True, exist_ok=True)
        namespace.html.write_text(diff_html(diff), encoding="utf-8")
        print(f"\nreport: {namespace.html}")
    return 0


def cmd_show(key: str, store: Path | None) -> int:
    from workbench.render import summary_text

    run = _load(key, store)
    print(summary_text(run))
    return 0


def cmd_export(key: str, fmt: str, output: Path | None, store: Path | None) -> int:
    from workbench.session import ensure_artifact

    run = _load(key, store)
    assert run.path is not None
    source = ensure_artifact(run.path, EXPORT_FORMATS[fmt], run)
    target = output or source
    if target != source:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    print(target)
    return 0


def _otlp_endpoint(text: str) -> str:
    from workbench.export import EndpointError, check_url

    try:
        return check_url(text, "the URL")
    except EndpointError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def cmd_export_otlp(namespace: argparse.Namespace, store: Path | None) -> int:
    """Send a run to an OpenTelemetry backend; exit status 1 with one line when it does not get there."""
    from workbench.export import OtlpExportError, export_run

    misuse = None
    if namespace.format != "otlp":
        misuse = "--endpoint goes with --format otlp only"
    elif namespace.output is not None:
        misuse = "--output does not apply to --format otlp (the run is sent, not written)"
    if misuse:
        print(f"workbench export: error: {misuse}", file=sys.stderr)
        return 2
    run = _load(namespace.run, store)
    try:
        result = export_run(run, namespace.endpoint)
    except OtlpExportError as error:
        print(f"workbench export: error: {error}", file=sys.stderr)
        return 1
    print(result.message())
    return 0


def cmd_profile(namespace: argparse.Namespace) -> int:
    from workbench.render import summary_text
    from workbench.session import ProfileSession

    options = from_namespace(namespace)
    script = str(Path(namespace.script).resolve())
    session = ProfileSession(options, cell_source=Path(script).read_text(), anchor_files=frozenset({script}))
    session.start()
    session.print_notices()
    sys.argv = [script, *namespace.args]
    error: BaseException | None = None
    try:
        runpy.run_path(script, run_name="__main__")
    except BaseException as caught:
        error = caught
        raise
    finally:
        run = session.stop(error)
        with escaped_output():
            session.print_notices()
            if not options.quiet:
                print(summary_text(run), file=sys.stderr)
    with escaped_output():
        return _report_budget(run)


def _report_budget(run: Run) -> int:
    """The budget table on stderr (stdout is the script's); 1 when a budget failed."""
    from workbench.session.budget_check import table_of

    record = run.metrics.get("budget")
    if not isinstance(record, dict):
        return 0
    print(table_of(record), file=sys.stderr)
    return 0 if record.get("passed") else 1


def cmd_import(traces: list[Path], name: str | None, store: Path | None, workers: int | None = None) -> int:
    from workbench.importers.kineto import KinetoFormatError
    from workbench.render import summary_text
    from workbench.saved.import_kineto import load_kineto

    try:
        source = traces[0] if len(traces) == 1 else traces
        run = load_kineto(source, name=name, store=store, workers=workers)
    except (KinetoFormatError, FileNotFoundError) as error:
        print(f"workbench: error: {error}", file=sys.stderr)
        return 2
    print(summary_text(run))
    return 0


def cmd_show_findings(key: str, store: Path | None) -> int:
    from workbench.render.findings_text import findings_text

    run = _load(key, store)
    if "findings" not in run.metrics:  # a run saved before findings existed: find them now
        from workbench.analysis.findings import find_bottlenecks

        findings, _ = find_bottlenecks(run)
    else:
        findings = run.findings
    print(f"Findings of {run.name!r} ({run.id}), largest estimated gain first:")
    print(findings_text(findings))
    return 0


def cmd_finding_kinds() -> int:
    from workbench.analysis.findings import RULES

    for kind, entry in sorted(RULES.items()):
        print(f"{kind:<28} {entry.summary}")
    return 0


def cmd_serve(namespace: argparse.Namespace) -> int:
    try:
        config = config_from_namespace(namespace)
    except ValueError as error:
        namespace.serve_parser.error(str(error))
    from workbench.serve.runner import serve

    serve(config)
    return 0


def add_note_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    note = commands.add_parser("note", help="attach a note to a run (shown on its dashboard and report)")
    note.add_argument("run", help="run id, id prefix, name, directory, or -1 for the latest")
    note.add_argument("text", help="the note (quote it)")
    where = note.add_mutually_exclusive_group()
    where.add_argument(
        "--at", type=float, metavar="MS", help="pin the note to this time (ms on the run clock)"
    )
    where.add_argument(
        "--range", type=float, nargs=2, metavar=("START_MS", "END_MS"), help="note this range of the run"
    )


def cmd_note(namespace: argparse.Namespace, store: Path | None) -> int:
    from workbench.saved.notes import note
    from workbench.store.notes import NoteError

    span = (namespace.range[0], namespace.range[1]) if namespace.range else None
    try:
        added = note(namespace.text, namespace.run, at_ms=namespace.at, range_ms=span, store=store)
    except NoteError as error:
        print(f"workbench note: {error}", file=sys.stderr)
        return 2
    print(added.message())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # Everything the command prints is escaped (names come from files anyone can edit), argparse's errors
    # too; only a profiled script's own output and the server's log are left as they are.
    with escaped_output():
        namespace = build_parser().parse_args(argv)
    # `profile` has its own --store; the one before the command applies to every command.
    store = getattr(namespace, "store", None) or namespace.global_store
    namespace.store = store
    if namespace.command == "serve":
        return cmd_serve(namespace)
    if namespace.command == "profile":
        # The script's own exception is its traceback, as under `python script.py`.
        return _reporting_errors(lambda: cmd_profile(namespace), namespace.command, damaged_runs=False)
    with escaped_output():
        return _reporting_errors(lambda: _run_command(namespace, store), namespace.command)


def _run_command(namespace: argparse.Namespace, store: Path | None) -> int:
    if namespace.command == "runs":
        return cmd_history(namespace.history_name, store) if namespace.history_name else cmd_runs(store)
    if namespace.command == "check":
        return cmd_check(namespace, store)
    if namespace.command == "compare":
        return cmd_compare(namespace, store)
    if namespace.command == "show":
        if namespace.findings:
            return cmd_show_findings(namespace.run, store)
        return cmd_show(namespace.run, store)
    if namespace.command == "findings":
        return cmd_finding_kinds()
    if namespace.command == "export":
        if namespace.format == "otlp" or namespace.endpoint is not None:
            return cmd_export_otlp(namespace, store)
        return cmd_export(namespace.run, namespace.format, namespace.output, store)
    if namespace.command == "import":
        return cmd_import(namespace.trace, namespace.name, store, namespace.workers)
    return cmd_note(namespace, store)


def _reporting_errors(command: Callable[[], int], name: str, damaged_runs: bool = True) -> int:
    """Exit status 2 with one line naming the problem, never a traceback: a run that cannot be found or
    read, a file that cannot be written; anything else (a run.json edited into a shape no command expects)
    is named with its type, and `WORKBENCH_DEBUG=1` shows the traceback."""
    try:
        return command()
    except (CorruptRunError, LookupError, OSError) as error:
        print(f"workbench: error: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        if not damaged_runs or os.environ.get(DEBUG_ENV):
            raise
        print(
            f"workbench {name}: error: {type(error).__name__}: {error} "
            f"(a damaged run? {DEBUG_ENV}=1 shows the traceback)",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
