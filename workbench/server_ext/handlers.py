"""Tornado handlers for `/fmprofile/api/...`, behind Jupyter Server's own authentication.

`APIHandler` gives the server's token/cookie check (`@authenticated`: 403 without it) and its XSRF check on
POST and DELETE (JupyterLab's fetch sends the token header, which satisfies it). Every error is JSON:
`{"error": <kind>, "message": <what went wrong>}`.

    GET    runs?path=DIR                      rows of the store of DIR, newest first, and its version
    GET    runs/ID?path=DIR                   run.json of one run (metrics, environment, notes)
    GET    runs/ID/report?path=DIR            its report.html (written first when missing)
    POST   runs/ID/notes?path=DIR             {"text", "t_ns"?, "end_ns"?}: append a note
    DELETE runs/ID?path=DIR                   remove the run
    GET    compare?path=DIR&a=ID&b=ID[&format=text]   the compare report of B against baseline A
    GET    bokehjs                            this server's BokehJS, one script (the lab extension gives it
                                              to the dashboards in notebook outputs; header X-BokehJS-Version)
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import tornado.ioloop
import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from workbench.server_ext import runs
from workbench.server_ext.paths import PathRefused, RunNotFound, relative_to_root, run_dir, store_dir
from workbench.store.rundir import CorruptRunError

# The report pages carry Bokeh's inline scripts; sandboxed, they run in an opaque origin and cannot use the
# user's Jupyter session (as Jupyter's own /files/ handler does for HTML).
REPORT_CSP = "frame-ancestors 'self'; sandbox allow-scripts"
_ERRORS: tuple[tuple[type[Exception], int, str], ...] = (
    (PathRefused, 403, "path_refused"),
    (RunNotFound, 404, "not_found"),
    (LookupError, 404, "not_found"),
    (runs.BadRequest, 400, "bad_request"),
    (runs.StillRecording, 409, "still_recording"),
    (CorruptRunError, 422, "corrupt_run"),
)


def json_errors(
    method: Callable[..., Awaitable[None]],
) -> Callable[..., Awaitable[None]]:
    """Turn the store's exceptions into JSON error replies with a fitting status."""

    @functools.wraps(method)
    async def wrapper(self: StoreHandler, *args: Any, **kwargs: Any) -> None:
        try:
            await method(self, *args, **kwargs)
        except tornado.web.HTTPError:
            raise
        except Exception as error:
            # Messages name files by their absolute path; the client knows them relative to the root.
            message = str(error).replace(f"{self.root.resolve()}/", "")
            for kind, status, code in _ERRORS:
                if isinstance(error, kind):
                    self.reply_error(status, code, message)
                    return
            self.log.exception("fmprofile API error")
            self.reply_error(500, "internal", f"{type(error).__name__}: {message}")

    return wrapper


class StoreHandler(APIHandler):  # type: ignore[misc]
    """Resolves the store named by the `path` query parameter (the notebook's folder)."""

    @property
    def root(self) -> Path:
        return Path(self.settings["fmprofile_root"])

    def store(self) -> Path:
        return store_dir(self.root, self.get_query_argument("path", ""))

    def run(self, run_id: str) -> Path:
        return run_dir(self.store(), run_id)

    def reply_error(self, status: int, code: str, message: str) -> None:
        self.clear()
        self.set_status(status)
        self.finish(json.dumps({"error": code, "message": message}))

    def reply_json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(value, default=str))

    def reply_html(self, html: str) -> None:
        self.set_header("Content-Security-Policy", REPORT_CSP)
        self.finish(html, set_content_type="text/html; charset=UTF-8")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Auth and XSRF failures raise HTTPError before our code runs: keep their reply JSON of our shape.
        reason = self._reason or "error"
        exc_info = kwargs.get("exc_info")
        message = reason
        if exc_info and isinstance(exc_info[1], tornado.web.HTTPError) and exc_info[1].log_message:
            message = str(exc_info[1].log_message)
        self.finish(json.dumps({"error": reason.lower().replace(" ", "_"), "message": message}))

    async def in_thread(self, func: Callable[..., Any], *args: Any) -> Any:
        # Rendering a report or a comparison takes a second or more: keep the server's loop responsive.
        return await tornado.ioloop.IOLoop.current().run_in_executor(None, func, *args)


class RunsHandler(StoreHandler):
    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        store = self.store()
        rows = await self.in_thread(runs.run_rows, store)
        self.reply_json(
            {
                "store": relative_to_root(self.root, store),
                "version": runs.store_version(store),
                "runs": rows,
            }
        )


class RunHandler(StoreHandler):
    @tornado.web.authenticated
    @json_errors
    async def get(self, run_id: str) -> None:
        self.reply_json(runs.run_meta(self.run(run_id)))

    @tornado.web.authenticated
    @json_errors
    async def delete(self, run_id: str) -> None:
        runs.delete_run(self.run(run_id))
        self.set_status(204)
        self.finish()


class ReportHandler(StoreHandler):
    @tornado.web.authenticated
    @json_errors
    async def get(self, run_id: str) -> None:
        report: Path = await self.in_thread(runs.ensure_report, self.run(run_id))
        self.reply_html(report.read_text(encoding="utf-8"))


class NotesHandler(StoreHandler):
    @tornado.web.authenticated
    @json_errors
    async def post(self, run_id: str) -> None:
        path = self.run(run_id)
        try:
            body = json.loads(self.request.body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise runs.BadRequest(f"the body is not JSON: {error}") from error
        self.reply_json(runs.add_note(path, body), status=201)


class CompareHandler(StoreHandler):
    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        fmt = self.get_query_argument("format", "html")
        if fmt not in ("html", "text"):
            raise runs.BadRequest("`format` is html or text")
        a, b = (self.run(self.get_query_argument(key)) for key in ("a", "b"))
        report: str = await self.in_thread(runs.compare_report, a, b, fmt)
        if fmt == "html":
            self.reply_html(report)
        else:
            self.reply_json({"a": a.name, "b": b.name, "text": report})


class BokehJSHandler(StoreHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        from workbench.render.bokehjs import VERSION, bokehjs_source

        source: str = await self.in_thread(bokehjs_source)
        self.set_header("X-BokehJS-Version", VERSION)
        # The browser keeps it and asks again with its ETag: a 304 until Bokeh changes.
        self.set_header("Cache-Control", "no-cache")
        self.finish(source.encode("utf-8"), set_content_type="text/javascript; charset=UTF-8")


def setup_handlers(web_app: Any, root_dir: str) -> None:
    base = url_path_join(web_app.settings["base_url"], "fmprofile", "api")
    run_id = r"(?P<run_id>[^/]+)"
    web_app.settings["fmprofile_root"] = root_dir
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, "runs"), RunsHandler),
            (url_path_join(base, "runs", run_id), RunHandler),
            (url_path_join(base, "runs", run_id, "report"), ReportHandler),
            (url_path_join(base, "runs", run_id, "notes"), NotesHandler),
            (url_path_join(base, "compare"), CompareHandler),
            (url_path_join(base, "bokehjs"), BokehJSHandler),
        ],
    )
