"""The collector: one daemon thread scraping every `--server` URL on absolute deadlines."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from workbench.collectors.base import CollectorContext
from workbench.collectors.gpu_telemetry import run_schedule
from workbench.collectors.server_metrics.convert import points
from workbench.collectors.server_metrics.fetch import Fetcher
from workbench.collectors.server_metrics.scrape import Scrape, parse_scrape
from workbench.model.events import CollectorStatus, Counter

NOTES_KEY = "server_metrics"
THREAD_NAME = "workbench-server-metrics"
JOIN_TIMEOUT_S = 3.0
SERIES_PREFIX = "server"


def series_name(index: int, name: str) -> str:
    return f"{SERIES_PREFIX}{index}.{name}"


@dataclass
class ServerState:
    index: int
    fetcher: Fetcher
    scrapes: int = 0
    failures: int = 0
    first_error: str = ""
    first: Scrape | None = None
    previous: Scrape | None = None
    previous_ns: int = 0
    series: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class Cost:
    ticks: int = 0
    cpu_ns: int = 0
    wall_ns: int = 0
    first_ns: int = 0
    last_ns: int = 0
    late: int = 0


class ServerMetricsCollector:
    name = "server"

    def __init__(
        self,
        urls: tuple[str, ...],
        rate_hz: float = 10.0,
        fetcher: Callable[[str, float], Fetcher] = Fetcher,
    ) -> None:
        if rate_hz <= 0:
            raise ValueError(f"rate_hz must be > 0, not {rate_hz}")
        self.rate_hz = rate_hz
        timeout = max(0.25, 1.0 / rate_hz)
        self.servers = [ServerState(i, fetcher(url, timeout)) for i, url in enumerate(urls)]
        self.cost = Cost()
        self._context: CollectorContext | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failure = ""

    def is_available(self) -> tuple[bool, str]:
        return (True, "") if self.servers else (False, "no --server URL given")

    def start(self, context: CollectorContext) -> None:
        self._context = context
        self._thread = threading.Thread(target=self._loop, name=THREAD_NAME, daemon=True)
        self._thread.start()
        context.recording.threads[self._thread.ident or 0] = self._thread.name

    def _loop(self) -> None:
        context = self._context
        assert context is not None
        period_ns = max(1, round(1e9 / self.rate_hz))
        try:
            self.cost.late = run_schedule(self.tick, context.clock.now_ns, period_ns, self._stop)
        except Exception as error:  # a bug here must not take the user's run down
            self._failure = f"{type(error).__name__}: {error}"

    def tick(self) -> None:
        """Scrape every server once (the thread calls this on its schedule; tests call it directly)."""
        context = self._context
        assert context is not None
        cpu, wall = time.thread_time_ns(), time.perf_counter_ns()
        for server in self.servers:
            self._scrape(context, server)
        cost = self.cost
        now = context.clock.now_ns()
        cost.first_ns = cost.first_ns or now
        cost.last_ns = now
        cost.ticks += 1
        cost.cpu_ns += time.thread_time_ns() - cpu
        cost.wall_ns += time.perf_counter_ns() - wall

    def _scrape(self, context: CollectorContext, server: ServerState) -> None:
        sent = context.clock.now_ns()
        try:
            text = server.fetcher.get()
            received = context.clock.now_ns()
            scrape = parse_scrape(text)
        except Exception as error:
            server.failures += 1
            server.first_error = server.first_error or f"{type(error).__name__}: {error}"[:200]
            return
        t_ns = (sent + received) // 2
        server.scrapes += 1
        first = server.first = server.first or scrape
        dt_s = (t_ns - server.previous_ns) / 1e9 if server.previous is not None else 0.0
        for point in points(scrape, server.previous, first, dt_s):
            name = series_name(server.index, point.name)
            context.recording.add_counter(Counter(name, t_ns, float(point.value)))
            if name not in server.series:
                server.series[name] = {"raw": point.raw, "kind": point.kind}
        server.previous, server.previous_ns = scrape, t_ns

    def stop(self) -> list[CollectorStatus]:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join(JOIN_TIMEOUT_S)
        for server in self.servers:
            server.fetcher.close()
        if self._context is None:
            return [CollectorStatus("server", False, "never started")]
        self._context.notes[NOTES_KEY] = self.summary()
        return [self._status(server) for server in self.servers]

    def summary(self) -> dict[str, object]:
        cost = self.cost
        span = cost.last_ns - cost.first_ns
        return {
            "rate_hz_requested": self.rate_hz,
            "rate_hz_achieved": round((cost.ticks - 1) * 1e9 / span, 2) if cost.ticks > 1 and span else 0.0,
            "ticks": cost.ticks,
            "late": cost.late,
            # The scraper's own cost: CPU time of its thread and wall time, per tick (all servers).
            "scrape_cpu_ms": round(cost.cpu_ns / cost.ticks / 1e6, 3) if cost.ticks else 0.0,
            "scrape_wall_ms": round(cost.wall_ns / cost.ticks / 1e6, 3) if cost.ticks else 0.0,
            "servers": [
                {
                    "index": s.index,
                    "url": s.fetcher.url,
                    "scrapes": s.scrapes,
                    "failures": s.failures,
                    "first_error": s.first_error or None,
                    "series": s.series,
                }
                for s in self.servers
            ],
            "failure": self._failure or None,
        }

    def _status(self, server: ServerState) -> CollectorStatus:
        name = f"server{server.index}"
        tried = server.scrapes + server.failures
        if not server.scrapes:
            why = server.first_error or "no scrape finished before the run ended"
            return CollectorStatus(name, False, f"{server.fetcher.url}: no scrape succeeded ({why})")
        text = f"{server.scrapes} scrapes of {server.fetcher.url}, {len(server.series)} series"
        if server.failures:
            text += f"; {server.failures} of {tried} failed ({server.first_error})"
        return CollectorStatus(name, True, text)

    def notices(self) -> list[str]:
        """One line per server whose scrapes failed: what failed, how often, the first error."""
        out = []
        for server in self.servers:
            if server.failures:
                tried = server.scrapes + server.failures
                out.append(
                    f"server{server.index}: {server.failures} of {tried} scrapes of {server.fetcher.url} "
                    f"failed ({server.first_error}); the run goes on without them"
                )
        return out
