"""`--repeat N`, `--warmup K` and `--sweep NAME=V1,V2,...`: options of the `%%fmprofile` magic only.

They run a cell's body several times, which a script profiled by `workbench profile` has no equivalent
for, so they are added to the magic's parser and not to the CLI's.
"""

from __future__ import annotations

import argparse
import ast
import keyword
from typing import Any


def _positive(text: str) -> int:
    return _whole(text, minimum=1)


def _non_negative(text: str) -> int:
    return _whole(text, minimum=0)


def _whole(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
    return value


def parse_sweep(text: str) -> tuple[str, list[Any]]:
    """`NAME=V1,V2,...` -> (NAME, [values]). Each value is a Python literal (`ast.literal_eval`) where it
    reads as one, else the text itself; values are split at commas, so a value cannot contain one."""
    name, equals, values = text.partition("=")
    name = name.strip()
    if not equals or not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"bad --sweep {text!r}: expected NAME=V1,V2,... with NAME a Python identifier")
    words = [word.strip() for word in values.split(",")]
    if not values.strip() or any(not word for word in words):
        raise ValueError(f"bad --sweep {text!r}: expected one or more comma-separated values after '='")
    return name, [_literal(word) for word in words]


def _literal(word: str) -> Any:
    try:
        return ast.literal_eval(word)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return word


def _sweep(text: str) -> tuple[str, list[Any]]:
    try:
        return parse_sweep(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_cell_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--repeat",
        type=_positive,
        metavar="N",
        help="run the cell N times into one run (a 'repetition' span each); metrics get per-repetition "
        "values with a 95%% confidence interval",
    )
    parser.add_argument(
        "--warmup",
        type=_non_negative,
        default=0,
        metavar="K",
        help="with --repeat or --sweep: first run the cell K times unrecorded (default: 0)",
    )
    parser.add_argument(
        "--sweep",
        type=_sweep,
        action="append",
        metavar="NAME=V1,V2,...",
        help="run the cell once per combination of the values (repeat the option for more names), with "
        "NAME bound in the notebook; each combination is a child run of one sweep run",
    )


def cell_options(namespace: argparse.Namespace) -> dict[str, Any]:
    """The cell options as `ProfileOptions` fields; ValueError for a bad combination."""
    repeat = getattr(namespace, "repeat", None)
    warmup = getattr(namespace, "warmup", 0)
    pairs = getattr(namespace, "sweep", None) or []
    sweep: dict[str, list[Any]] = {}
    for name, values in pairs:
        if name in sweep:
            raise ValueError(f"bad --sweep {name}=...: {name!r} is swept twice")
        sweep[name] = values
    if warmup and repeat is None and not sweep:
        raise ValueError("--warmup needs --repeat N or --sweep")
    return {"repeat": repeat, "warmup": warmup, "sweep": sweep or None}
