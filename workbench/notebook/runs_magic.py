"""`%fmprofile_runs [--name NAME] [--store DIR]`: the saved runs as a table in the notebook.

What `workbench runs` prints in a terminal, as a DataFrame the cell shows and returns; with `--name`, the
history of one name (`workbench runs --name`). It needs no `workbench` script on the kernel's PATH.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import NoReturn

import pandas as pd
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

from workbench.store.history import history, runs_table


class _RaisingParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"%fmprofile_runs: {message}")


def runs_parser() -> argparse.ArgumentParser:
    parser = _RaisingParser(prog="%fmprofile_runs", add_help=False)
    parser.add_argument("--name", help="the history of the runs of this name, oldest first")
    parser.add_argument(
        "--store", type=Path, help="the run store (default: $WORKBENCH_STORE, else ./.fmprofile)"
    )
    return parser


@magics_class
class RunsMagics(Magics):
    @line_magic
    def fmprofile_runs(self, line: str) -> pd.DataFrame:
        """%fmprofile_runs [--name NAME] [--store DIR]: the saved runs (or one name's history) as a table."""
        try:
            words = shlex.split(line)
        except ValueError as error:
            raise UsageError(f"%fmprofile_runs: {error}") from None
        args = runs_parser().parse_args(words)
        if args.name is not None:
            return history(args.name, args.store)
        return runs_table(args.store)
