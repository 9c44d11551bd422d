"""A Jupyter server (JupyterLab or plain jupyter_server) a test starts on 127.0.0.1 and stops after."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

STARTUP_S = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def quiet_lab_settings(settings_dir: Path) -> None:
    """No "get notified about Jupyter news?" toast over the screenshots."""
    folder = settings_dir / "@jupyterlab" / "apputils-extension"
    folder.mkdir(parents=True, exist_ok=True)
    settings = {"fetchNews": "false", "checkForUpdates": False}
    (folder / "notification.jupyterlab-settings").write_text(json.dumps(settings))


@contextmanager
def jupyter_server(
    module: str,
    root: Path,
    token: str,
    log_path: Path,
    env: Mapping[str, str],
    extra_args: Sequence[str] = (),
    ready: Callable[[str], bool] | None = None,
    python: str = sys.executable,
) -> Iterator[str]:
    """`python -m module` serving `root` with `token`; yields its URL once `ready(url)` (by default: the
    server answers /api/status), and stops it, killing it if it does not stop within 20 s. `python` is
    another environment's interpreter for a test of an install."""
    port = free_port()
    command = [
        python, "-m", module, "--no-browser", f"--IdentityProvider.token={token}", "--allow-root",
        f"--port={port}", "--ip=127.0.0.1", f"--ServerApp.root_dir={root}", *extra_args,
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    answers = ready or (lambda base: requests.get(f"{base}/api/status?token={token}", timeout=2).ok)
    with log_path.open("w") as log:
        server = subprocess.Popen(command, cwd=root, env=dict(env), stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_ready(url, server, answers, log_path)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)


def _wait_ready(url: str, server: subprocess.Popen[bytes], ready: Callable[[str], bool], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if ready(url):
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    pytest.fail(f"the Jupyter server did not start: {log.read_text()[-3000:]}")


BUILT_LAB_EXTENSION = Path(__file__).resolve().parent.parent / "workbench" / "labextension"


def with_lab_extension(tmp_path: Path, apps: Sequence[str] = ("LabApp",)) -> tuple[dict[str, str], list[str]]:
    """The environment and arguments that load the built lab extension and the server extension into a
    Jupyter server started by a test (its own config and settings under `tmp_path`); skips when unbuilt."""
    if not (BUILT_LAB_EXTENSION / "package.json").is_file():
        pytest.skip(f"the lab extension is not built ({BUILT_LAB_EXTENSION}); `make lab` builds it")
    labext, config = tmp_path / "labextensions", tmp_path / "config"
    for folder in (labext, config):
        folder.mkdir(exist_ok=True)
    # JupyterLab names a prebuilt extension's folder after its package.
    (labext / "fm-workbench-lab").symlink_to(BUILT_LAB_EXTENSION)
    quiet_lab_settings(tmp_path / "settings")
    server_config = {"ServerApp": {"jpserver_extensions": {"workbench.server_ext": True}}}
    (config / "jupyter_server_config.json").write_text(json.dumps(server_config))
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
    }
    env.pop("WORKBENCH_STORE", None)  # kernels save beside the notebook, where the sidebar looks
    args = [f"--{app}.extra_labextensions_path={labext}" for app in apps]
    return env, args


def write_notebook(path: Path, sources: Sequence[str]) -> None:
    """A notebook of code cells with the python3 kernelspec, so JupyterLab starts it without asking."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
