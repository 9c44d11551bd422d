"""`--server-profile DIR`: the servers' own torch.profiler traces, bracketing the run.

vLLM's API (and `workbench serve --profile-dir DIR`'s): `POST {server}/start_profile` before the cell,
`POST {server}/stop_profile` after it; the server's workers each write a Kineto trace into the directory
the server was started with (vLLM: `VLLM_TORCH_PROFILER_DIR`). The traces that appear in DIR during the
run are the run's server ranks (`importers.server_traces` puts them on the run clock).

Nothing here may break the cell: a server without the endpoints, a directory the server does not write
into or that cannot be read are each a one-line notice naming what is missing and how to fix it.
Requests go through urllib, not httpx: the workbench's hooks record httpx requests as the user's.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

# Starting may import torch in the server (seconds); stopping writes every worker's trace.
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 300.0
# After /stop_profile answers, how long to wait for trace files to appear and stop growing (a server
# may write them after it answers).
SETTLE_S = 5.0
POLL_S = 0.1
TRACE_SUFFIXES = (".json", ".json.gz")
FIX = (
    "start the server with the directory to profile into (vLLM: VLLM_TORCH_PROFILER_DIR=DIR; "
    "`workbench serve --profile-dir DIR`) and pass that same DIR"
)

Post = Callable[[str, float], None]


class ProfileControlError(RuntimeError):
    """A /start_profile or /stop_profile that did not succeed; the message is one line."""


def control_url(server: str, action: str) -> str:
    """`http://host:port/<action>` for a `--server` URL (a base URL, `/v1` or `/metrics` under it)."""
    parts = urlsplit(server)
    path = parts.path.rstrip("/")
    for suffix in ("/metrics", "/v1"):
        path = path.removesuffix(suffix)
    return urlunsplit((parts.scheme, parts.netloc, f"{path}/{action}", "", ""))


def post(url: str, timeout_s: float) -> None:
    """POST with an empty body; ProfileControlError with the server's own words when it refuses."""
    request = urllib.request.Request(url, data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read()
    except urllib.error.HTTPError as error:
        body = error.read().decode("utf-8", "replace").strip()
        said = f": {_first_line(body)}" if body else ""
        if error.code in (404, 405):
            raise ProfileControlError(
                f"{url} answered HTTP {error.code}: this server does not profile on request; {FIX}"
            ) from None
        raise ProfileControlError(f"{url} answered HTTP {error.code}{said}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ProfileControlError(f"cannot reach {url} ({reason}); is the server running?") from None


def _first_line(text: str) -> str:
    import json

    try:
        doc = json.loads(text)
        message = doc.get("error", {}).get("message") if isinstance(doc, dict) else None
        if isinstance(doc, dict) and message is None:
            message = doc.get("detail") or doc.get("message")
        if message:
            text = str(message)
    except (ValueError, AttributeError):
        pass
    line = text.splitlines()[0] if text else ""
    return line[:200]


Listing = dict[Path, tuple[int, int]]


def list_traces(directory: Path) -> Listing:
    """Trace files under `directory` with their (mtime_ns, size); OSError when it cannot be read."""
    found: Listing = {}
    for path in directory.rglob("*"):
        if path.name.endswith(TRACE_SUFFIXES) and path.is_file():
            stat = path.stat()
            found[path] = (stat.st_mtime_ns, stat.st_size)
    return found


class ServerProfile:
    name = "server-profile"

    def __init__(self, servers: tuple[str, ...], directory: str | Path, post: Post = post) -> None:
        self.servers = servers
        self.directory = Path(directory).expanduser()
        self._post = post
        self._started: list[str] = []
        self._before: Listing = {}
        self.notices: list[str] = []

    def start(self) -> None:
        if not self.servers:
            self.notices.append(
                "server profile: no server to profile; add --server URL (the server that writes into "
                f"{self.directory})"
            )
            return
        try:
            self._before = list_traces(self.directory) if self.directory.exists() else {}
        except OSError as error:
            self.notices.append(f"server profile: cannot read {self.directory} ({error}); {FIX}")
            return
        for server in self.servers:
            try:
                self._post(control_url(server, "start_profile"), START_TIMEOUT_S)
            except ProfileControlError as error:
                self.notices.append(f"server profile: {error}")
                continue
            self._started.append(server)

    @property
    def started(self) -> bool:
        return bool(self._started)

    def stop(self) -> list[Path]:
        """Stop every profiler started; the trace files written into the directory since `start()`."""
        stopped = 0
        for server in self._started:
            try:
                self._post(control_url(server, "stop_profile"), STOP_TIMEOUT_S)
                stopped += 1
            except ProfileControlError as error:
                self.notices.append(f"server profile: {error}")
        self._started = []
        if not stopped:
            return []
        try:
            files = self._settled()
        except OSError as error:
            self.notices.append(
                f"server profile: cannot read the traces in {self.directory} ({error}); {FIX}"
            )
            return []
        if not files:
            where = "does not exist" if not self.directory.exists() else "has no new trace"
            self.notices.append(
                f"server profile: the server was profiled but {self.directory} {where}: is it the directory "
                f"the server writes into, on this machine? {FIX}"
            )
        return files

    def _settled(self) -> list[Path]:
        """New or rewritten traces, once none has appeared or grown for one poll (at most SETTLE_S)."""
        deadline = time.monotonic() + SETTLE_S
        seen: Listing | None = None
        while True:
            now = self._new()
            if now and now == seen:
                break
            if time.monotonic() > deadline:
                break
            seen = now
            time.sleep(POLL_S)
        return sorted(now)

    def _new(self) -> Listing:
        if not self.directory.exists():
            return {}
        return {p: s for p, s in list_traces(self.directory).items() if self._before.get(p) != s}
