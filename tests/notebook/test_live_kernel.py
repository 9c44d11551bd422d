"""The live view in a real kernel: its output slot ends as the static dashboard, and its thread is gone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.kernel import Kernel, workbench_kernel

pytestmark = pytest.mark.kernel

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
STREAMING_CELL = (
    "%%fmprofile --name live-kernel\n"
    "import time\n"
    "import workbench as wb\n"
    "with wb.llm_request(model='demo') as request:\n"
    "    for _ in range(80):\n"
    "        time.sleep(0.05)\n"
    "        request.chunk(2)\n"
    "sum(i * i for i in range(300_000))\n"
)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    store = tmp_path_factory.mktemp("store")
    with workbench_kernel(tmp_path_factory.mktemp("cwd"), store) as k:
        yield k


def _is_static_dashboard(data: dict[str, str]) -> bool:
    return "<iframe" in data.get("text/html", "") and WIDGET_MIME not in data


def test_live_view_is_replaced_in_place_and_its_thread_ends(kernel: Kernel) -> None:
    result = kernel.execute(STREAMING_CELL)
    assert result.status == "ok", result.text()
    displays = result.of_type("display_data")
    assert len(displays) == 1, [sorted(d["data"]) for d in displays]
    assert _is_static_dashboard(displays[0]["data"])
    assert result.updates >= 2  # BokehJS -> live widget -> the static dashboard, in one slot
    values = [r["data"]["text/plain"] for r in result.of_type("execute_result")]
    assert len(values) == 1  # the cell's value, unchanged
    check = kernel.execute(
        "import threading\n"
        "from workbench.notebook import magics as _m\n"
        "_s = _m._profiler.last_live_stats\n"
        "print([t.name for t in threading.enumerate() if t.name == 'workbench-live'], _s.ticks)\n"
    )
    alive, ticks = check.text().rsplit(" ", 1)
    assert alive == "[]"
    assert int(ticks) >= 4  # ~3 s of live view (opened 1 s into the 4 s cell) at ~2 ticks/s


def test_a_short_cell_shows_only_its_final_dashboard(kernel: Kernel) -> None:
    # Over before the live view's delay (1 s): one output, the dashboard, where the cell reserved it.
    result = kernel.execute("%%fmprofile --name short\nsum(i * i for i in range(100_000))\n")
    assert result.status == "ok", result.text()
    displays = result.of_type("display_data")
    assert len(displays) == 1 and _is_static_dashboard(displays[0]["data"])
    assert result.updates == 1  # the cell's reserved slot, filled once: no BokehJS, no widget
    check = kernel.execute(
        "import threading\n"
        "print([t.name for t in threading.enumerate() if t.name.startswith('workbench-live')])\n"
    )
    assert check.text().strip() == "[]"


def test_quiet_shows_no_live_view(kernel: Kernel) -> None:
    result = kernel.execute("%%fmprofile --quiet\nimport time\ntime.sleep(0.3)\n")
    assert result.status == "ok", result.text()
    assert result.of_type("display_data") == [] and result.updates == 0


def test_nbclient_records_only_the_static_dashboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_STORE", str(tmp_path / "store"))
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("%load_ext workbench"),
        nbformat.v4.new_code_cell(STREAMING_CELL),
    ]
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = notebook.cells[1].outputs
    displays = [o for o in outputs if o.output_type == "display_data"]
    assert len(displays) == 1 and _is_static_dashboard(dict(displays[0].data))
    assert not any(WIDGET_MIME in o.get("data", {}) for o in outputs)
