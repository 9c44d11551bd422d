"""Starting and stopping the server: `start_server`, `python -m workbench.serve`, `workbench serve`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from workbench import cli
from workbench.serve import ServerStartError, start_server
from workbench.serve.config import check_loopback
from workbench.serve.runner import bind


def gone(pid: int, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_start_server_leaves_no_process_behind() -> None:
    with start_server(ttft_ms=1, token_delay_ms=1) as server:
        pid = server.pid
        assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/v1")
        assert httpx.get(server.base_url + "/models").status_code == 200
        assert os.getpgid(pid) == pid  # its own process group, killed as a whole
    assert not server.running and gone(pid)
    server.stop()  # a second stop is harmless
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)


@pytest.mark.parametrize(
    "ending",
    [
        "sys.exit(0)",  # a normal exit: the atexit hook stops the server
        "os.kill(os.getpid(), signal.SIGKILL)",  # no atexit: the server sees its parent go and stops itself
    ],
)
def test_server_does_not_outlive_a_parent_that_never_stopped_it(ending: str) -> None:
    parent = f"""
import os, signal, sys
from workbench.serve import start_server
print(start_server().pid, flush=True)
{ending}
"""
    done = subprocess.run([sys.executable, "-c", parent], capture_output=True, text=True, timeout=60)
    pid = int(done.stdout.split()[0])
    assert gone(pid), "the server outlived its parent"


def test_bad_option_values_are_refused_before_starting() -> None:
    with pytest.raises(ValueError, match="ttft_ms"):
        start_server(ttft_ms=-1)
    with pytest.raises(ValueError, match="error_rate"):
        start_server(error_rate=1.5)
    with pytest.raises(ValueError, match="backend"):
        start_server("gpt-5")  # type: ignore[arg-type]


def test_a_failed_start_reports_the_servers_stderr() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(ServerStartError, match=r"cannot listen on 127\.0\.0\.1"):
            start_server(port=busy.getsockname()[1])


def test_non_loopback_hosts_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["serve", "--host", "0.0.0.0"])
    assert exit_info.value.code == 2
    assert "argument --host: refusing to bind to '0.0.0.0'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="loopback"):
        check_loopback("192.168.1.10")
    with pytest.raises(ValueError, match="refusing"):
        bind("::", 0)
    done = subprocess.run(
        [sys.executable, "-m", "workbench.serve", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and "--host" in done.stderr and "refusing" in done.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--ttft-ms", "-5"], "argument --ttft-ms: must be >= 0"),
        (["--error-rate", "2"], "argument --error-rate: must be a share between 0 and 1"),
        (["--tokens-per-chunk", "0"], "argument --tokens-per-chunk: must be a whole number >= 1"),
        (["--port", "70000"], "argument --port"),
        (["--backend", "gpt"], "argument --backend: invalid choice"),
        (["--backend", "model", "--ttft-ms", "5"], "--ttft-ms only apply to --backend synthetic"),
    ],
)
def test_bad_cli_values_name_the_option(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["serve", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_workbench_serve_runs_in_the_foreground_until_interrupted() -> None:
    command = [sys.executable, "-m", "workbench.cli", "serve", "--port", "0", "--ttft-ms", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("serving synthetic on http://127.0.0.1:") and line.endswith("/v1")
        base_url = line.split(" on ")[1]
        reply = httpx.post(base_url + "/completions", json={"model": "m", "prompt": "p", "max_tokens": 2})
        assert reply.json()["choices"][0]["text"] == "tok0 tok1"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=10)
        assert process.returncode == 0 and "Traceback" not in stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
