"""`python -m workbench.serve ...`: the same server and options as `workbench serve`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from workbench.serve.arguments import add_serve_options, config_from_namespace


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m workbench.serve",
        description="A local OpenAI-compatible streaming server (synthetic timing or a tiny local model).",
    )
    add_serve_options(parser)
    # Used by start_server(): stop when the parent process is gone, even if it was killed outright.
    parser.add_argument("--exit-with-parent", type=int, default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    namespace = parser.parse_args(argv)
    try:
        config = config_from_namespace(namespace)
    except ValueError as error:
        parser.error(str(error))
    from workbench.serve.runner import serve  # fastapi and uvicorn load only once the options are good

    try:
        serve(config, parent_pid=namespace.exit_with_parent)
    except OSError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
