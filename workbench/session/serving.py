"""The parts of a session that reach past the cell's process: `--attach PID` (py-spy on other local
processes, into lanes of their own) and `--server-profile DIR` (the servers' torch.profiler traces, on the
run clock). Each problem is one notice and a skipped collector status; the cell always runs."""

from __future__ import annotations

from typing import Any

from workbench.active import active
from workbench.collectors.base import CollectorContext
from workbench.model.events import CollectorStatus
from workbench.model.run import Run
from workbench.options import ProfileOptions


class ServingSide:
    def __init__(self, options: ProfileOptions) -> None:
        self.options = options
        self.notices: list[str] = []
        self.statuses: list[CollectorStatus] = []
        self._attached: list[Any] = []
        self._profile: Any = None

    def start(self, context: CollectorContext) -> None:
        """Start the servers' profilers first (their start-up is not the cell's), then py-spy per PID."""
        if self.options.server_profile:
            from workbench.collectors.server_profile import ServerProfile

            profile = ServerProfile(self.options.server, self.options.server_profile)
            profile.start()
            self.notices.extend(profile.notices)
            profile.notices.clear()
            if profile.started:
                self._profile = profile
            else:
                self.statuses.append(CollectorStatus("server-profile", False, "no server profiler started"))
        for pid in dict.fromkeys(self.options.attach):
            self._attach(pid, context)

    def _attach(self, pid: int, context: CollectorContext) -> None:
        from workbench.collectors.attach import AttachedPySpy, AttachError

        collector = AttachedPySpy(pid)
        available, reason = collector.is_available()
        if not available:
            self._skip(f"attach:{pid}", reason if str(pid) in reason else f"pid {pid}: {reason}")
            return
        try:
            collector.start(context)
        except AttachError as error:
            self._skip(f"attach:{pid}", str(error))
            return
        except Exception as error:
            self._skip(
                f"attach:{pid}", f"pid {pid}: could not start py-spy ({type(error).__name__}: {error})"
            )
            return
        self._attached.append(collector)

    def _skip(self, name: str, reason: str) -> None:
        self.statuses.append(CollectorStatus(name, False, reason))
        self.notices.append(f"--attach: {reason}" if name.startswith("attach:") else reason)

    def stop(self, run: Run) -> None:
        """Stop py-spy on each attached process and the servers' profilers; add what they recorded."""
        for collector in self._attached:
            try:
                status = collector.stop()
            except Exception as error:
                status = CollectorStatus(
                    collector.name, False, f"failed while stopping ({type(error).__name__}: {error})"
                )
            self.statuses.append(status)
            if not status.started:
                self.notices.append(f"--attach: {status.reason}")
            elif collector.result is not None:
                run.recording.attached.append(collector.result)
        self._attached = []
        profile, self._profile = self._profile, None
        if profile is not None:
            self._stop_profile(profile, run)
        if self.options.server_spans:
            self._join_server_spans(run, self.options.server_spans)

    def _join_server_spans(self, run: Run, path: str) -> None:
        """`--server-spans FILE`: the servers' OTLP spans under the requests whose traceparent they carry."""
        from workbench.importers.server_spans import ServerSpansError, join_server_spans

        try:
            recorder = active()  # still recording: a late request's span must not take a joined span's id
            joined = join_server_spans(run, path, None if recorder is None else recorder.reserve_span_id)
        except ServerSpansError as error:
            self.statuses.append(CollectorStatus("server-spans", False, str(error)))
            self.notices.append(f"--server-spans: {error}")
            return
        self.statuses.append(CollectorStatus("server-spans", True, joined.summary()))
        if joined.notice:
            self.notices.append(f"--server-spans: {joined.notice}")

    def _stop_profile(self, profile: Any, run: Run) -> None:
        from workbench.importers.server_traces import import_server_traces

        files = profile.stop()
        self.notices.extend(profile.notices)
        if not files:
            self.statuses.append(CollectorStatus("server-profile", False, "no trace was written"))
            return
        try:
            self.notices.extend(import_server_traces(run, files))
        except Exception as error:
            reason = f"the server's traces could not be imported ({type(error).__name__}: {error})"
            self.statuses.append(CollectorStatus("server-profile", False, reason))
            self.notices.append(f"server profile: {reason}")
            return
        ranks = len(run.environment.get("ranks") or [])
        events = (run.environment.get("server_profile") or {}).get("events", 0)
        self.statuses.append(
            CollectorStatus(
                "server-profile", True, f"{events:,} events from {len(files)} trace(s), {ranks} rank(s)"
            )
        )

    @staticmethod
    def add_metrics(run: Run) -> None:
        """`metrics["gpu"]["ranks"]` for the server's ranks and `metrics["attached"]` per attached process."""
        if run.environment.get("server_profile"):
            from workbench.importers.server_traces import server_rank_metrics

            ranks = server_rank_metrics(run)
            if ranks:
                run.metrics.setdefault("gpu", {})["ranks"] = ranks
        if run.recording.attached:
            from workbench.analysis.cpu import top_functions

            run.metrics["attached"] = [
                {
                    "pid": a.pid,
                    "label": a.label,
                    "samples": sum(s.count for s in a.recording.samples),
                    "sampled_ms": sum(s.duration_ns for s in a.recording.samples) / 1e6,
                    "rate_hz": a.rate_hz,
                    "top_functions": top_functions(a.recording),
                }
                for a in run.recording.attached
            ]
