"""The CLI from a notebook: `%fmprofile_runs` shows the saved runs as a table, and `!workbench runs` works in
a kernel whose environment lacks the venv's bin (JupyterLab started as .venv/bin/jupyter, not activated)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from IPython.core.error import UsageError

from tests.kernel import workbench_kernel
from workbench.notebook.runs_magic import runs_parser

BARE_PATH = "/usr/bin:/bin"


def test_the_options_are_name_and_store() -> None:
    args = runs_parser().parse_args(["--name", "rag", "--store", "s"])
    assert (args.name, str(args.store)) == ("rag", "s")
    with pytest.raises(UsageError, match="%fmprofile_runs: unrecognized arguments: --colour"):
        runs_parser().parse_args(["--colour"])


@pytest.mark.kernel
def test_the_magic_lists_the_runs_and_one_names_history(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with workbench_kernel(tmp_path, store) as kernel:
        for name in ("alpha", "beta", "alpha"):
            done = kernel.execute(f"%%fmprofile --name {name} --quiet --no-kernels\nsum(range(10_000))")
            assert done.status == "ok", done.text()
        table = kernel.execute("t = %fmprofile_runs\nprint(list(t['name']))")
        assert table.text().strip() == "['alpha', 'beta', 'alpha']"
        named = kernel.execute("h = %fmprofile_runs --name alpha\nprint(len(h), h['id'].is_unique)")
        assert named.text().strip() == "2 True"
        bad = kernel.execute("%fmprofile_runs --colour red")
        # IPython shows a UsageError as one line on stderr, not a traceback.
        assert bad.reply["content"]["ename"] == "UsageError"
        assert bad.text("stderr") == "UsageError: %fmprofile_runs: unrecognized arguments: --colour red\n"


@pytest.mark.kernel
def test_the_workbench_command_runs_in_a_kernel_started_without_the_venv_on_path(tmp_path: Path) -> None:
    spec = Path(sys.prefix, "share", "jupyter", "kernels", "python3", "kernel.json")
    if not spec.is_file():
        pytest.skip("not run from the venv of `make install` (it installs the kernel spec)")
    assert json.loads(spec.read_text())["env"]["PATH"].startswith(str(Path(sys.executable).parent))
    store = tmp_path / "store"
    with workbench_kernel(tmp_path, store, env={"PATH": BARE_PATH}) as kernel:
        done = kernel.execute("%%fmprofile --name from-path --quiet --no-kernels\nsum(range(10_000))")
        assert done.status == "ok", done.text()
        listed = kernel.execute("!workbench runs")
        assert "from-path" in listed.text(), listed.text()
        module = kernel.execute("import sys\n!{sys.executable} -m workbench runs")
        assert "from-path" in module.text(), module.text()
