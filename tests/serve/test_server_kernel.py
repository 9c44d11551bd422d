"""`%%fmprofile --server URL` in a real Jupyter kernel: the server's queue in `run.telemetry` and the
Server panel in the cell's dashboard."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.kernel import workbench_kernel
from workbench.serve import start_server
from workbench.store import list_runs, load_run

pytestmark = pytest.mark.kernel

CELL = """%%fmprofile --name served --no-cpu --server {url} --server-rate 20
import asyncio, httpx
async def one(client):
    body = {{"model": "m", "messages": [{{"role": "user", "content": "hi"}}], "max_tokens": 8,
            "stream": True}}
    async with client.stream("POST", "{base}/chat/completions", json=body) as response:
        async for _ in response.aiter_lines():
            pass
async with httpx.AsyncClient(limits=httpx.Limits(max_connections=20)) as client:
    await asyncio.gather(*(one(client) for _ in range(8)))
"""


@pytest.mark.timeout(240)
def test_fmprofile_server_makes_telemetry_and_the_server_panel(tmp_path: Path) -> None:
    store, cwd = tmp_path / "store", tmp_path / "cwd"
    cwd.mkdir()
    with start_server(ttft_ms=300, token_delay_ms=30, max_num_seqs=2) as server:
        root = server.base_url.removesuffix("/v1")
        with workbench_kernel(cwd, store) as kernel:
            result = kernel.execute(CELL.format(url=root, base=server.base_url))
    assert result.status == "ok", result.text()
    html = "".join(
        str(c.get("data", {}).get("text/html", ""))
        for kind in ("display_data", "update_display_data")
        for c in result.of_type(kind)
    )
    assert "fm-workbench-output" in html
    run = load_run(Path(list_runs(store)[-1]["path"]))
    telemetry = run.telemetry
    assert telemetry[telemetry.series == "server0.requests_waiting"].value.max() == 6
    assert run.metrics["server"]["series"]["server0.requests_waiting"]["raw"] == "vllm:num_requests_waiting"
    # The dashboard the cell showed, drawn again from the saved run: its Server panel names the raw metric.
    from bokeh.embed import file_html
    from bokeh.resources import CDN

    from workbench.render.dashboard import DashboardRenderer

    page = file_html(DashboardRenderer().render(run).layout, CDN)
    assert "server_panel" in page and "vllm:num_requests_waiting" in page
