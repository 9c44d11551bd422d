"""The run store API (`/fmprofile/api/...`) on a real Jupyter Server started on 127.0.0.1 with a token.

The server's root holds `nb/` with two saved runs and a corrupt one, and links that lead outside the root
(a run directory and a folder): every endpoint, authentication, XSRF, and each way out must be refused.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

import workbench as wb
from tests.jupyter_process import jupyter_server

TOKEN = "fmprofile-api-test"
SECRET = "the secret outside the root"
REPORT_LINKED = "20990102-000000-lnk001"
META_LINKED = "20990102-000000-lnk002"
API = "fmprofile/api"


@dataclass
class Server:
    url: str
    root: Path
    ids: list[str]  # the two good runs, oldest first

    def api(self, endpoint: str) -> str:
        return f"{self.url}/{API}/{endpoint}"

    def get(self, endpoint: str, token: bool = True, **params: str) -> requests.Response:
        return requests.get(self.api(endpoint), params=params, headers=_auth(token), timeout=60)

    def post(self, endpoint: str, body: Any, token: bool = True) -> requests.Response:
        url, headers = self.api(endpoint), _auth(token)
        return requests.post(url, params={"path": "nb"}, json=body, headers=headers, timeout=60)

    def delete(self, endpoint: str, token: bool = True) -> requests.Response:
        return requests.delete(self.api(endpoint), params={"path": "nb"}, headers=_auth(token), timeout=60)


def _auth(token: bool) -> dict[str, str]:
    # JupyterLab's ServerConnection sends this header; a token-authenticated request needs no XSRF cookie.
    return {"Authorization": f"token {TOKEN}"} if token else {}


def _make_store(root: Path, outside: Path) -> list[str]:
    store = root / "nb" / ".fmprofile"
    ids = []
    for name in ("first", "second"):
        with wb.profile(name=name, store=store, cpu=False) as run, wb.llm_request(model="m") as request:
            request.chunk(3)
            request.chunk(2)
        ids.append(run.id)
    corrupt = store / "runs" / "20990101-000000-bad000"
    corrupt.mkdir()
    (corrupt / "run.json").write_text("{not json")
    # A run saved outside the root, linked into the store; and a folder of the root that is a link out.
    with wb.profile(name="secret", store=outside / ".fmprofile", cpu=False) as secret:
        pass
    (store / "runs" / "linked").symlink_to(outside / ".fmprofile" / "runs" / secret.id)
    (root / "linkdir").symlink_to(outside)
    # A folder whose store's runs/ is a link to the outside store (the folder and store are real).
    (root / "linkedruns" / ".fmprofile").mkdir(parents=True)
    (root / "linkedruns" / ".fmprofile" / "runs").symlink_to(outside / ".fmprofile" / "runs")
    # Real run directories in nb's store whose report.html, or run.json, is a link to a file outside.
    (outside / "secret.txt").write_text(SECRET)
    for run_id, linked_file in ((REPORT_LINKED, "report.html"), (META_LINKED, "run.json")):
        source = store / "runs" / ids[0]
        (store / "runs" / run_id).mkdir()
        for file in source.iterdir():
            if file.name != linked_file:
                (store / "runs" / run_id / file.name).write_bytes(file.read_bytes())
        target = outside / "secret.txt" if linked_file == "report.html" else secret.path / "run.json"  # type: ignore[operator]
        (store / "runs" / run_id / linked_file).symlink_to(target)
    return ids


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("fmprofile-api")
    root, outside, config = base / "root", base / "outside", base / "config"
    for folder in (root, outside, config):
        folder.mkdir()
    ids = _make_store(root, outside)
    # Enabled explicitly: the test must not depend on the package's installed jupyter-config file.
    extensions = {"ServerApp": {"jpserver_extensions": {"workbench.server_ext": True}}}
    (config / "jupyter_server_config.json").write_text(json.dumps(extensions))
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_RUNTIME_DIR": str(base / "runtime")}
    env.pop("WORKBENCH_STORE", None)

    def ready(url: str) -> bool:  # the extension's own route, not only the server, must answer
        return requests.get(f"{url}/{API}/runs", headers=_auth(True), timeout=2).status_code != 404

    with jupyter_server("jupyter_server", root, TOKEN, base / "server.log", env, ready=ready) as url:
        yield Server(url, root, ids)


def _error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict) and body.get("error") and body.get("message"), body
    return body


def test_lists_runs_newest_first_with_the_sidebar_columns(server: Server) -> None:
    response = server.get("runs", path="nb")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["store"] == "nb/.fmprofile" and body["version"] > 0
    by_id = {row["id"]: row for row in body["runs"]}
    good = [row["id"] for row in body["runs"] if row["status"] == "ok"]
    assert good == server.ids[::-1]
    first = by_id[server.ids[0]]
    # A run's report.html is written when first asked for (below), not when its cell ended.
    assert first["name"] == "first" and first["output_tokens"] == 5 and not first["has_report"]
    assert first["wall_s"] is not None and first["ttft_ms_p50"] is not None
    assert by_id["20990101-000000-bad000"]["status"] == "corrupt"
    assert "not valid JSON" in by_id["20990101-000000-bad000"]["error"]
    assert all("path" not in row for row in body["runs"])  # no absolute paths leave the server
    assert "secret" not in {row["name"] for row in body["runs"]}  # the run linked in from outside


def test_a_folder_without_store_lists_nothing(server: Server) -> None:
    body = server.get("runs", path="").json()
    assert body == {"store": ".fmprofile", "version": 0, "runs": []}


def test_reads_a_runs_metadata_and_metrics(server: Server) -> None:
    meta = server.get(f"runs/{server.ids[1]}", path="nb").json()
    assert meta["name"] == "second" and meta["metrics"]["tokens"]["output_tokens"] == 5


def test_serves_the_report_sandboxed(server: Server) -> None:
    response = server.get(f"runs/{server.ids[0]}/report", path="nb")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert "Bokeh" in response.text and "first" in response.text


def test_writes_a_missing_report_first(server: Server) -> None:
    report = server.root / "nb" / ".fmprofile" / "runs" / server.ids[1] / "report.html"
    report.unlink(missing_ok=True)
    response = server.get(f"runs/{server.ids[1]}/report", path="nb")
    assert response.status_code == 200 and report.is_file()
    row = {r["id"]: r for r in server.get("runs", path="nb").json()["runs"]}[server.ids[1]]
    assert row["has_report"]


def test_compares_two_runs(server: Server) -> None:
    a, b = server.ids
    page = server.get("compare", path="nb", a=a, b=b)
    assert page.status_code == 200 and "sandbox" in page.headers["Content-Security-Policy"]
    assert "Bokeh" in page.text
    text = server.get("compare", path="nb", a=a, b=b, format="text").json()
    assert text["a"] == a and text["b"] == b and text["text"]
    _error(server.get("compare", path="nb", a=a), 400)
    _error(server.get("compare", path="nb", a=a, b=b, format="pdf"), 400)


def test_corrupt_runs_are_reported_not_500(server: Server) -> None:
    bad = "20990101-000000-bad000"
    body = _error(server.get(f"runs/{bad}", path="nb"), 422)
    assert body["error"] == "corrupt_run" and "not valid JSON" in body["message"]
    assert str(server.root) not in body["message"]  # named relative to the root
    assert _error(server.get(f"runs/{bad}/report", path="nb"), 422)["error"] == "corrupt_run"
    _error(server.get("compare", path="nb", a=server.ids[0], b=bad), 422)


def test_unknown_run_is_404(server: Server) -> None:
    _error(server.get("runs/20000101-000000-000000", path="nb"), 404)
    _error(server.get("runs/20000101-000000-000000/report", path="nb"), 404)


def test_adds_a_note_to_run_json(server: Server) -> None:
    notes = f"runs/{server.ids[0]}/notes"
    whole = server.post(notes, {"text": " slow retrieval "})
    assert whole.status_code == 201, whole.text
    note = whole.json()
    assert note["text"] == "slow retrieval" and note["t_ns"] is None and note["created"] and note["author"]
    ranged = server.post(notes, {"text": "x", "t_ns": 5, "end_ns": 9})
    assert ranged.status_code == 201 and ranged.json()["end_ns"] == 9
    run = wb.load_run(server.root / "nb" / ".fmprofile" / "runs" / server.ids[0])  # still loads
    got = [(a.text, a.t_ns, a.end_ns) for a in run.annotations]
    assert got == [("slow retrieval", None, None), ("x", 5, 9)]
    for body in ({}, {"text": ""}, {"text": "x", "t_ns": -1}, {"text": "x", "end_ns": 3}, [1]):
        _error(server.post(notes, body), 400)
    headers = _auth(True)
    _error(requests.post(server.api(notes), params={"path": "nb"}, data=b"{", headers=headers), 400)


def test_deletes_a_run(server: Server, tmp_path: Path) -> None:
    with wb.profile(name="doomed", store=server.root / "nb" / ".fmprofile", cpu=False) as run:
        pass
    assert server.delete(f"runs/{run.id}").status_code == 204
    assert not (server.root / "nb" / ".fmprofile" / "runs" / run.id).exists()
    _error(server.delete(f"runs/{run.id}"), 404)


def test_a_run_being_recorded_is_listed_as_recording_and_not_deleted(server: Server) -> None:
    store = server.root / "nb" / ".fmprofile"
    with wb.profile(name="in flight", store=store, cpu=False) as run:
        row = next(r for r in server.get("runs", path="nb").json()["runs"] if r["id"] == run.id)
        assert row["status"] == "recording" and row["has_report"] is False
        refused = _error(server.delete(f"runs/{run.id}"), 409)
        assert "still being recorded" in refused["message"]
    assert (store / "runs" / run.id / "run.json").exists()
    row = next(r for r in server.get("runs", path="nb").json()["runs"] if r["id"] == run.id)
    assert row["status"] == "ok"


def test_authentication_is_required(server: Server) -> None:
    run_id = server.ids[0]
    for response in (
        server.get("runs", token=False, path="nb"),
        server.get(f"runs/{run_id}", token=False, path="nb"),
        server.get(f"runs/{run_id}/report", token=False, path="nb"),
        server.get("compare", token=False, path="nb", a=run_id, b=server.ids[1]),
        server.post(f"runs/{run_id}/notes", {"text": "x"}, token=False),
        server.delete(f"runs/{run_id}", token=False),
        requests.get(server.api("runs"), params={"path": "nb"}, headers={"Authorization": "token wrong"}),
    ):
        assert response.status_code in (401, 403), (response.request.method, response.url)
    assert (server.root / "nb" / ".fmprofile" / "runs" / run_id).is_dir()


def test_cookie_sessions_need_the_xsrf_token(server: Server) -> None:
    session = requests.Session()
    # Opening a page with ?token= logs the browser in with a cookie, as a user following the server's link.
    session.get(f"{server.url}/api/status", params={"token": TOKEN}, timeout=30)
    session.get(f"{server.url}/login", timeout=30)
    assert session.get(server.api("runs"), params={"path": "nb"}, timeout=30).status_code == 200
    url = server.api(f"runs/{server.ids[0]}/notes")
    refused = session.post(url, params={"path": "nb"}, json={"text": "no xsrf"}, timeout=30)
    assert refused.status_code == 403, refused.text
    xsrf = session.cookies.get("_xsrf")
    assert xsrf, session.cookies
    headers = {"X-XSRFToken": xsrf}
    accepted = session.post(url, params={"path": "nb"}, json={"text": "with xsrf"}, headers=headers)
    assert accepted.status_code == 201, accepted.text


OUTSIDE_FOLDERS = ["..", "../", "nb/../..", "nb/../../outside", "/etc", "/", "linkdir", "linkdir/.fmprofile"]


@pytest.mark.parametrize("folder", [*OUTSIDE_FOLDERS, "C:/x", "a\\..\\.."])
def test_folders_outside_the_root_are_refused(server: Server, folder: str) -> None:
    assert _error(server.get("runs", path=folder), 403)["error"] == "path_refused"


def test_percent_encoded_traversal_is_refused(server: Server) -> None:
    # Sent as is: requests would otherwise re-encode the %; tornado decodes once, to '../..'.
    response = requests.get(server.api("runs") + "?path=%2e%2e%2f%2e%2e", headers=_auth(True), timeout=30)
    assert _error(response, 403)["error"] == "path_refused"
    double = requests.get(server.api("runs") + "?path=%252e%252e%252f", headers=_auth(True), timeout=30)
    assert double.status_code in (403, 200)  # '%2e%2e%2f' is a (missing) folder name, not a way out
    if double.status_code == 200:
        assert double.json()["runs"] == []


@pytest.mark.parametrize("run_id", ["..", "..%2F..%2Fetc", "%2e%2e", "linked", "a..b", ".hidden"])
def test_run_ids_outside_the_store_are_refused(server: Server, run_id: str) -> None:
    for suffix in ("", "/report"):
        response = requests.get(
            server.api(f"runs/{run_id}{suffix}") + "?path=nb", headers=_auth(True), timeout=30
        )
        assert response.status_code in (403, 404), (run_id, suffix, response.status_code)
        if response.status_code == 403 or run_id == "linked":
            assert _error(response, 403)["error"] == "path_refused"
    _error(server.delete("runs/linked"), 403)
    assert (server.root / "nb" / ".fmprofile" / "runs" / "linked").is_symlink()


def test_compare_refuses_a_linked_run(server: Server) -> None:
    _error(server.get("compare", path="nb", a=server.ids[0], b="linked"), 403)


def test_a_store_whose_runs_folder_links_outside_is_refused_on_every_endpoint(server: Server) -> None:
    outside_runs = server.root.parent / "outside" / ".fmprofile" / "runs"
    secret_id = next(outside_runs.iterdir()).name
    before = (outside_runs / secret_id / "run.json").read_bytes()
    _error(server.get("runs", path="linkedruns"), 403)
    _error(server.get(f"runs/{secret_id}", path="linkedruns"), 403)
    _error(server.get(f"runs/{secret_id}/report", path="linkedruns"), 403)
    url, headers = server.api(f"runs/{secret_id}"), _auth(True)
    _error(requests.delete(url, params={"path": "linkedruns"}, headers=headers, timeout=30), 403)
    note = requests.post(f"{url}/notes", params={"path": "linkedruns"}, json={"text": "x"}, headers=headers)
    _error(note, 403)
    assert (outside_runs / secret_id / "run.json").read_bytes() == before  # not deleted, not annotated


@pytest.mark.parametrize("run_id", [REPORT_LINKED, META_LINKED])
def test_a_run_holding_a_file_that_links_outside_is_neither_listed_nor_served(
    server: Server, run_id: str
) -> None:
    listed = {row["id"] for row in server.get("runs", path="nb").json()["runs"]}
    assert run_id not in listed
    for endpoint in (f"runs/{run_id}", f"runs/{run_id}/report"):
        response = server.get(endpoint, path="nb")
        _error(response, 403)
        assert SECRET not in response.text
    _error(server.post(f"runs/{run_id}/notes", {"text": "written through the link?"}), 403)
    _error(server.delete(f"runs/{run_id}"), 403)
    assert (server.root / "nb" / ".fmprofile" / "runs" / run_id).is_dir()
    secret_meta = server.root.parent / "outside" / ".fmprofile" / "runs"
    assert all("written through" not in p.read_text() for p in secret_meta.glob("*/run.json"))


def test_bokehjs_is_this_servers_bokeh_for_a_logged_in_page_only(server: Server) -> None:
    import bokeh

    response = server.get("bokehjs")
    assert response.status_code == 200, response.text[:300]
    assert response.headers["X-BokehJS-Version"] == bokeh.__version__
    assert response.headers["Content-Type"].startswith("text/javascript")
    # The three components the dashboards use, and not MathJax (2 MB the dashboards never need).
    assert response.text.count(f'"{bokeh.__version__}"') >= 1 and len(response.text) > 1_000_000
    assert "MathJax" not in response.text[:2000]
    again = requests.get(
        server.api("bokehjs"), headers={**_auth(True), "If-None-Match": response.headers["Etag"]}, timeout=60
    )
    assert again.status_code == 304  # the page's next load revalidates instead of fetching 2 MB
    assert server.get("bokehjs", token=False).status_code == 403
