"""How the extensions are registered: the server config file names an importable extension module, and the
wheel carries it and the built JupyterLab extension into the environment's prefix (no Node.js needed)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "jupyter-config" / "jupyter_server_config.d" / "workbench.json"


def test_the_server_config_enables_an_importable_extension() -> None:
    extensions = json.loads(CONFIG.read_text())["ServerApp"]["jpserver_extensions"]
    assert extensions == {"workbench.server_ext": True}
    module = importlib.import_module("workbench.server_ext")
    assert module._jupyter_server_extension_points() == [{"module": "workbench.server_ext"}]


def test_the_wheel_installs_the_config_and_the_built_lab_extension() -> None:
    data_files = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    assert data_files["etc/jupyter/jupyter_server_config.d"] == [str(CONFIG.relative_to(ROOT))]
    target = "share/jupyter/labextensions/fm-workbench-lab"
    assert data_files[target] == ["src/workbench/labextension/package.json"]
    assert data_files[f"{target}/static"] == ["src/workbench/labextension/static/*"]


def test_the_built_lab_extension_matches_its_source_package() -> None:
    source = json.loads((ROOT / "extensions" / "workbench-lab" / "package.json").read_text())
    built_file = ROOT / "src" / "workbench" / "labextension" / "package.json"
    if not built_file.is_file():
        return  # not built in this checkout: the browser tests skip, `make lab` builds it
    built = json.loads(built_file.read_text())
    assert (built["name"], built["version"]) == (source["name"], source["version"])
    assert built["jupyterlab"]["_build"]["load"].startswith("static/remoteEntry.")
