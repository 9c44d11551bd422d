"""Fetching a `/metrics` page: one kept-alive HTTP connection per server, plain `http.client`.

Not httpx: the workbench's own hooks instrument httpx while a run is active, and a scrape is not one of
the user's requests. A URL without a path (or with an OpenAI base path ending in `/v1`) gets `/metrics`.
"""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit, urlunsplit


def metrics_url(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if not path or path.endswith("/v1"):
        path = path[: -len("/v1")] if path.endswith("/v1") else path
        path += "/metrics"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


class Fetcher:
    def __init__(self, url: str, timeout_s: float) -> None:
        self.url = metrics_url(url)
        parts = urlsplit(self.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "localhost"
        self._port = parts.port
        self._target = parts.path + (f"?{parts.query}" if parts.query else "")
        self._timeout = timeout_s
        self._connection: http.client.HTTPConnection | None = None

    def get(self) -> str:
        """The page's text; raises OSError / http.client.HTTPException / ValueError (not HTTP 200)."""
        connection = self._connection or self._connect()
        try:
            connection.request("GET", self._target, headers={"Accept": "text/plain"})
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            self.close()  # a fresh connection next time
            raise
        if response.status != 200:
            raise ValueError(f"HTTP {response.status} {response.reason}")
        return body.decode("utf-8", "replace")

    def _connect(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        self._connection = kind(self._host, self._port, timeout=self._timeout)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
