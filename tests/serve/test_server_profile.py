"""`--server-profile DIR` against a real `workbench serve --profile-dir`: the cell is bracketed with
`/start_profile` and `/stop_profile`, the torch.profiler trace the server wrote is imported on the run
clock as "server rank 0" lanes; each way it can fail is one notice and a cell that still runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest

import workbench as wb
from workbench.collectors.server_profile import control_url
from workbench.serve import ServerHandle, start_server
from workbench.store import load_run


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server-traces")


@pytest.fixture(scope="module")
def model_server(tmp_path_factory: pytest.TempPathFactory, traces: Path) -> Iterator[ServerHandle]:
    model = tmp_path_factory.mktemp("tiny-gpt2")
    with start_server("model", model_dir=model, seed=2, profile_dir=traces) as handle:
        yield handle


def _requests(server: ServerHandle, n: int = 2) -> None:
    body = {"model": "m", "prompt": "one two three", "max_tokens": 6}
    for _ in range(n):
        httpx.post(server.base_url + "/completions", json=body, timeout=60).raise_for_status()


@pytest.mark.timeout(180)
def test_server_kernels_join_the_run_on_its_clock(
    model_server: ServerHandle, traces: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with wb.profile(
        "profiled", server=model_server.base_url, server_profile=traces, store=tmp_path, cpu=False
    ) as run:
        _requests(model_server)
    assert "server profile" not in capsys.readouterr().err
    status = {s.name: s for s in run.collectors}["server-profile"]
    assert status.started, status.reason
    ops = run.ops
    assert len(ops) and set(ops.lane.str.split(" · ").str[0]) == {"server rank 0"}
    # The model's own operators, from the server's process, inside the run: aligned through the traces'
    # wall clock and the run's wall-clock origin (a wrong base would put them hours away).
    assert ops.name.str.contains("aten::").any()
    assert ops.start_ms.min() >= 0 and ops.end_ms.max() <= run.duration_ns / 1e6 + 1000
    requests = run.spans.query("kind == 'llm'")
    if len(requests):  # the client's requests (httpx) enclose the server's work on the same clock
        assert ops.start_ms.min() >= requests.start_ms.min() - 50
    [rank] = run.metrics["gpu"]["ranks"]
    assert rank["rank"] == 0 and rank["label"] == "server rank 0"
    assert [e["rank"] for e in run.environment["ranks"]] == [0]
    # Saved with the run.
    again = load_run(run.path)  # type: ignore[arg-type]
    assert len(again.ops) == len(ops) and again.metrics["gpu"]["ranks"] == run.metrics["gpu"]["ranks"]


@pytest.mark.timeout(180)
def test_a_directory_the_server_does_not_write_is_a_notice(
    model_server: ServerHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "not-the-servers"
    with wb.profile(
        "elsewhere", server=model_server.base_url, server_profile=elsewhere, store=tmp_path, cpu=False
    ) as run:
        _requests(model_server, 1)
    assert run.status == "complete" and run.recording.ops is None
    lines = [line for line in capsys.readouterr().err.splitlines() if "server profile" in line]
    assert len(lines) == 1 and str(elsewhere) in lines[0] and "--profile-dir" in lines[0]


@pytest.mark.timeout(60)
def test_a_server_without_a_profile_dir_says_how_to_start_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with (
        start_server(ttft_ms=1, token_delay_ms=1) as server,
        wb.profile(
            "off", server=server.base_url, server_profile=tmp_path / "t", store=tmp_path, cpu=False
        ) as run,
    ):
        pass
    assert run.status == "complete"
    [line] = [line for line in capsys.readouterr().err.splitlines() if "server profile" in line]
    assert "HTTP 400" in line and "--profile-dir" in line


class _NotFound(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.timeout(60)
def test_an_endpoint_that_is_not_there_is_one_notice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = HTTPServer(("127.0.0.1", 0), _NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/v1"
    try:
        with wb.profile(
            "missing", server=url, server_rate=1, server_profile=tmp_path, store=tmp_path, cpu=False
        ):
            pass
    finally:
        server.shutdown()
    lines = [line for line in capsys.readouterr().err.splitlines() if "server profile" in line]
    assert len(lines) == 1 and "HTTP 404" in lines[0] and "VLLM_TORCH_PROFILER_DIR" in lines[0]


def test_server_profile_without_a_server_is_a_notice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with wb.profile("alone", server_profile=tmp_path, store=tmp_path, cpu=False) as run:
        pass
    assert run.status == "complete"
    assert "server profile: no server to profile; add --server URL" in capsys.readouterr().err


def test_control_url_from_any_server_url() -> None:
    for url in ("http://h:1", "http://h:1/", "http://h:1/v1", "http://h:1/metrics"):
        assert control_url(url, "start_profile") == "http://h:1/start_profile"
    assert control_url("http://h:1/proxy/v1", "stop_profile") == "http://h:1/proxy/stop_profile"
