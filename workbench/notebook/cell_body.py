"""A `%%fmprofile` cell body compiled once and run as often as `--repeat` / `--sweep` ask.

Why exec: without those options the input transformer leaves the body in place, so it runs as the cell
itself (see `magics`). A body that must run several times cannot be the cell, so for them the transformer
replaces the whole cell with one call that hands the body, as text, to the workbench. Here the body is
transformed by IPython (`%` and `!` lines), compiled under the cell's own file name with its line numbers
shifted to where the lines stand in the cell, and exec'd in the user namespace once per run. linecache's
entry for that file gets the cell's original text, so tracebacks quote the user's lines. The value of the
last expression (of the last run) is returned: the cell displays it as it would without the magic (a
trailing `;` hides it, as usual). Top-level `await` would need the cell to be a coroutine: refused with a
UsageError for now.
"""

from __future__ import annotations

import ast
import inspect
import linecache
from typing import Any

from IPython.core.error import UsageError

AWAIT_ERROR = "--repeat and --sweep do not support top-level await yet; wrap it in asyncio.run(...)"


class CellBody:
    def __init__(
        self, shell: Any, source: str, filename: str, first_line: int = 1, magic_line: str | None = None
    ) -> None:
        self.shell = shell
        self.source = source
        self.filename = filename
        flags = int(getattr(shell.compile, "flags", 0))
        _cache_lines(filename, source, first_line, magic_line)
        # Blank lines in front put each line where it stands in the cell (also for a SyntaxError).
        tree = ast.parse("\n" * (first_line - 1) + shell.transform_cell(source), filename)
        _refuse_top_level_await(tree, filename, flags)
        last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        statements = tree.body[:-1] if last is not None else tree.body
        module = ast.Module(body=statements, type_ignores=[])
        self._exec = compile(module, filename, "exec", flags=flags, dont_inherit=True)
        self._eval = None
        if last is not None:
            expression = ast.Expression(body=last.value)
            self._eval = compile(expression, filename, "eval", flags=flags, dont_inherit=True)
        self.quiet = source.rstrip().endswith(";")

    def run(self) -> Any:
        """Run the body once in the user namespace; the last expression's value (None when hidden)."""
        __tracebackhide__ = True  # IPython leaves this frame out of tracebacks
        exec(self._exec, self.shell.user_global_ns, self.shell.user_ns)
        if self._eval is None:
            return None
        value = eval(self._eval, self.shell.user_global_ns, self.shell.user_ns)
        return None if self.quiet else value


def _refuse_top_level_await(tree: ast.Module, filename: str, flags: int) -> None:
    try:
        code = compile(
            tree, filename, "exec", flags=flags | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
        )
    except SyntaxError:
        return  # the real compile reports it
    if code.co_flags & inspect.CO_COROUTINE:
        raise UsageError(f"%%fmprofile: {AWAIT_ERROR}")


def _cache_lines(filename: str, source: str, first_line: int, magic_line: str | None) -> None:
    lines = [line + "\n" for line in source.splitlines()]
    head = [(magic_line or "") + "\n"] * (first_line - 1)
    text = [*head, *lines]
    linecache.cache[filename] = (sum(map(len, text)), None, text, filename)
