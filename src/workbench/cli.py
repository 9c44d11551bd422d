"""The `workbench` command: list, show, export and record runs."""

from __future__ import annotations

import argparse
import runpy
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from workbench.model.run import Run
from workbench.options import add_profile_options, from_namespace, profile_parser
from workbench.serve.arguments import add_serve_options, config_from_namespace
from workbench.store import CorruptRunError, list_runs, load_run, resolve_run

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
    commands.add_parser("runs", help="list saved runs")
    show = commands.add_parser("show", help="print a run's summary")
    show.add_argument("run", help="run id, id prefix, name, or directory")
    export = commands.add_parser("export", help="export a run for Perfetto, speedscope or a browser")
    export.add_argument("run", help="run id, id prefix, name, or directory")
    export.add_argument("--format", choices=sorted(EXPORT_FORMATS), required=True)
    export.add_argument(
        "-o", "--output", type=Path, help="output file (default: the file in the run directory)"
    )
    record = commands.add_parser("profile", help="run a Python script under the profiler and save the run")
    add_profile_options(record)
    record.add_argument("script", help="the Python script to run")
    record.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    serve = commands.add_parser(
        "serve", help="run a local OpenAI-compatible streaming server in the foreground (demos, tests)"
    )
    add_serve_options(serve)
    serve.set_defaults(serve_parser=serve)
    return parser


def _load(key: str, store: Path | None) -> Run:
    return load_run(resolve_run(key, store))


def cmd_runs(store: Path | None) -> int:
    rows = list_runs(store)
    if not rows:
        print("no runs saved yet (profile a cell with %%fmprofile, or run `workbench profile script.py`)")
        return 0
    print(f"{'id':24} {'name':20} {'created':26} {'wall_s':>8} {'tokens':>7} {'ttft_p50':>9}")
    for meta in rows:
        if "load_error" in meta:
            print(f"{meta['id']:24} (unreadable: {meta['load_error']})")
            continue
        metrics = meta.get("metrics") or {}
        tokens = metrics.get("tokens") or {}
        ttft = (tokens.get("ttft_ms") or {}).get("p50")
        print(
            f"{meta['id']:24} {str(meta.get('name'))[:20]:20} {meta.get('created', ''):26} "
            f"{metrics.get('wall_s', 0):8.3f} {tokens.get('output_tokens', 0):7} "
            f"{'-' if ttft is None else f'{ttft:.1f}':>9}"
        )
    return 0


def cmd_show(key: str, store: Path | None) -> int:
    from workbench.render import summary_text

    run = _load(key, store)
    print(summary_text(run))
    return 0


def cmd_export(key: str, fmt: str, output: Path | None, store: Path | None) -> int:
    from workbench.session import write_artifacts

    run = _load(key, store)
    assert run.path is not None
    source = run.path / EXPORT_FORMATS[fmt]
    if not source.exists():
        problems = write_artifacts(run, run.path)
        if not source.exists():
            raise OSError("; ".join(problems) or f"could not write {source}")
    target = output or source
    if target != source:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    print(target)
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
        session.print_notices()
        if not options.quiet:
            print(summary_text(run), file=sys.stderr)
    return 0


def cmd_serve(namespace: argparse.Namespace) -> int:
    try:
        config = config_from_namespace(namespace)
    except ValueError as error:
        namespace.serve_parser.error(str(error))
    from workbench.serve.runner import serve

    serve(config)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    namespace = parser.parse_args(argv)
    # `profile` has its own --store; the one before the command applies to every command.
    store = getattr(namespace, "store", None) or namespace.global_store
    namespace.store = store
    try:
        if namespace.command == "runs":
            return cmd_runs(store)
        if namespace.command == "show":
            return cmd_show(namespace.run, store)
        if namespace.command == "export":
            return cmd_export(namespace.run, namespace.format, namespace.output, store)
        if namespace.command == "serve":
            return cmd_serve(namespace)
        return cmd_profile(namespace)
    except (CorruptRunError, LookupError, OSError) as error:
        print(f"workbench: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
