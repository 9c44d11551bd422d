"""How the extensions are installed, the JupyterLab extension template's way: the wheel's shared data carries
the prebuilt lab extension and the server extension's config into the environment's prefix (no Node.js
needed), and a development install links and enables both. Every install path is checked as a user would:
`jupyter server extension list`, `jupyter labextension list`, and the run API answering on a real server.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from tests.jupyter_process import jupyter_server

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "jupyter-config" / "jupyter_server_config.d" / "workbench.json"
BUILT = ROOT / "workbench" / "labextension"
LAB_EXTENSION = "fm-workbench-lab"
TOKEN = "packaging-test-token"


def test_the_server_config_enables_an_importable_extension() -> None:
    extensions = json.loads(CONFIG.read_text())["ServerApp"]["jpserver_extensions"]
    assert extensions == {"workbench.server_ext": True}
    module = importlib.import_module("workbench.server_ext")
    assert module._jupyter_server_extension_points() == [{"module": "workbench.server_ext"}]
    package = importlib.import_module("workbench")
    assert package._jupyter_labextension_paths() == [{"src": "labextension", "dest": LAB_EXTENSION}]


def test_the_wheel_maps_the_config_and_the_built_lab_extension_into_the_prefix() -> None:
    hatch = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    shared = hatch["targets"]["wheel"]["shared-data"]
    assert shared["workbench/labextension"] == f"share/jupyter/labextensions/{LAB_EXTENSION}"
    assert shared[str(CONFIG.relative_to(ROOT))] == f"etc/jupyter/jupyter_server_config.d/{CONFIG.name}"
    # install.json (how JupyterLab says the extension was installed: by pip, as fm-workbench) sits beside
    # the build, since building empties the output folder, and is mapped into the installed folder.
    source = ROOT / "extensions" / "workbench-lab" / "install.json"
    installed = f"share/jupyter/labextensions/{LAB_EXTENSION}/install.json"
    assert shared[str(source.relative_to(ROOT))] == installed
    install = json.loads(source.read_text())
    assert (install["packageManager"], install["packageName"]) == ("python", "fm-workbench")
    builder = hatch["hooks"]["jupyter-builder"]
    assert builder["skip-if-exists"] == ["workbench/labextension/static/style.js"]


def test_the_built_lab_extension_matches_its_source_package() -> None:
    source = json.loads((ROOT / "extensions" / "workbench-lab" / "package.json").read_text())
    assert source["jupyterlab"]["outputDir"] == "../../workbench/labextension"
    built = json.loads((BUILT / "package.json").read_text())
    assert (built["name"], built["version"]) == (source["name"], source["version"])
    load = built["jupyterlab"]["_build"]["load"]
    assert load.startswith("static/remoteEntry.") and (BUILT / load).is_file()


def test_the_conda_environment_installs_the_project_with_the_lab_extra_under_the_pins() -> None:
    # conda is not available here: the file is checked to install what the wheel test installs, the pins
    # first (the editable install of hatchling carries the shared data too, as the development venv shows).
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert pip[0] == "--constraint constraints.txt" and pip[1] == "torch==2.13.0"
    project = pip[-1].removeprefix("-e ").strip()
    assert project.startswith(".[") and "lab" in project[2:-1].split(",")


def _run(command: list[str], env: dict[str, str] | None = None) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return str(result.stdout + result.stderr)


def _clean_env() -> dict[str, str]:
    """The user's environment without this test run's Jupyter settings, so only the install is seen."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "VIRTUAL_ENV", "PYTHONPATH"))}
    env["PATH"] = "/usr/bin:/bin"
    return env


def _assert_both_extensions_work(bin_dir: Path, tmp_path: Path) -> None:
    env = _clean_env()
    servers = _run([str(bin_dir / "jupyter"), "server", "extension", "list"], env=env)
    assert any("workbench.server_ext" in line and "enabled" in line for line in servers.splitlines()), servers
    labs = _run([str(bin_dir / "jupyter"), "labextension", "list"], env=env)
    line = next((line for line in labs.splitlines() if LAB_EXTENSION in line), "")
    assert "enabled" in line and "OK" in line, labs
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    log = tmp_path / f"server-{bin_dir.parent.name}.log"
    with jupyter_server("jupyter_server", root, TOKEN, log, env, python=str(bin_dir / "python")) as url:
        answer = requests.get(
            f"{url}/fmprofile/api/runs", headers={"Authorization": f"token {TOKEN}"}, timeout=10
        )
        assert answer.status_code == 200, answer.text
        assert isinstance(answer.json(), dict | list)
        assert requests.get(f"{url}/fmprofile/api/runs", timeout=10).status_code == 403


@pytest.mark.kernel
def test_the_development_install_of_make_install_enables_both_extensions(tmp_path: Path) -> None:
    """What `make install` left in this venv (the test runs in it): nothing else wires the extensions."""
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "jupyter").exists():
        pytest.skip("not run from a venv with Jupyter (run `make test`)")
    _assert_both_extensions_work(bin_dir, tmp_path)


@pytest.mark.install
@pytest.mark.timeout(900)
def test_a_wheel_built_with_build_installs_both_extensions_into_a_fresh_venv_without_torch(
    tmp_path: Path,
) -> None:
    dist = tmp_path / "dist"
    # The sdist first, then the wheel from the unpacked sdist, as `python -m build` does by default: the
    # sdist must carry the prebuilt lab extension.
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(ROOT)])
    wheel = next(dist.glob("fm_workbench-*.whl"))
    venv = tmp_path / "fresh"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    pins = ["-c", str(ROOT / "constraints.txt")]
    _run([str(python), "-m", "pip", "install", "-q", *pins, f"{wheel}[lab]"], env=_clean_env())
    has_torch = "import importlib.util as u; print(u.find_spec('torch') is not None)"
    assert _run([str(python), "-c", has_torch]).strip() == "False"
    assert "usage: workbench" in _run([str(venv / "bin" / "workbench"), "--help"], env=_clean_env())
    assert "usage: workbench" in _run([str(python), "-m", "workbench", "--help"], env=_clean_env())
    _assert_both_extensions_work(venv / "bin", tmp_path)
