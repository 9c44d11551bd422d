"""The Jupyter Server extension: the run store of a notebook's folder under `/fmprofile/api/...`.

It adds handlers to the server JupyterLab already runs (its port, its token and XSRF checks); nothing else
listens. Enabled by `etc/jupyter/jupyter_server_config.d/workbench.json`, which the package installs, or
by `jupyter server extension enable workbench.server_ext`.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "workbench.server_ext"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    # Imported here: `import workbench` must not pull in tornado and jupyter_server for kernels and the CLI.
    from workbench.server_ext.handlers import setup_handlers

    setup_handlers(serverapp.web_app, serverapp.root_dir)
    serverapp.log.info("workbench: run store API at %sfmprofile/api/", serverapp.base_url)
