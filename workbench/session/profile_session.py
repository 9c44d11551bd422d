"""A profiling session: starts the collectors and hooks, records into one Run, stops and saves it.

Nothing here may break the profiled code: a collector that cannot start is skipped with a notice, and
stopping saves whatever was recorded, whatever went wrong. Nothing recorded is lost either: the run's
directory exists from the start, with a journal of the recording (a killed kernel leaves a "crashed" run,
see store/recover.py), and at the end the raw recording is saved before anything is derived from it (an
interrupt or a failure in the analysis leaves an "unanalysed" run that says why).
"""

from __future__ import annotations

import os
import secrets
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from workbench.active import Recorder, activate, deactivate
from workbench.analysis.run_metrics import run_metrics
from workbench.clock import RunClock
from workbench.collectors.base import CollectorContext
from workbench.collectors.cpu import CpuCollector
from workbench.collectors.gil_probe import GilProbe
from workbench.instrument import Hook, default_hooks
from workbench.instrument.import_watch import ImportWatcher
from workbench.model.events import CollectorStatus, Span
from workbench.model.recording import Recording
from workbench.model.run import Run
from workbench.options import ProfileOptions
from workbench.session.environment import capture_environment
from workbench.session.gpu import GpuCollectors
from workbench.session.interrupts import interrupts_held
from workbench.session.journaling import JournalWriter
from workbench.session.serving import ServingSide
from workbench.store import rundir
from workbench.store.index import default_store, runs_dir
from workbench.store.journal import JOURNAL_FILE
from workbench.store.recover import this_process

_last_run: Run | None = None


def last_run() -> Run | None:
    return _last_run


def new_run_id() -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


class ProfileSession:
    def __init__(
        self,
        options: ProfileOptions,
        cell_source: str = "",
        anchor_files: frozenset[str] = frozenset(),
        main_thread_id: int | None = None,
    ) -> None:
        self.options = options
        self.cell_source = cell_source
        self.anchor_files = anchor_files
        self.main_thread_id = main_thread_id if main_thread_id is not None else threading.get_ident()
        self.notices: list[str] = []
        self.statuses: list[CollectorStatus] = []
        self.run: Run | None = None
        self._cpu: CpuCollector | None = None
        self._hooks: list[Hook] = []
        self._hooks_lock = threading.Lock()
        self._import_watcher: ImportWatcher | None = None
        self._context: CollectorContext | None = None
        self._recorder: Recorder | None = None
        self._root: Span | None = None
        self._gpu: GpuCollectors | None = None
        self._gil_probe: GilProbe | None = None
        self._journal: JournalWriter | None = None
        self._server: Any = None
        self._otel_in: Any = None
        self._serving = ServingSide(options)

    @property
    def clock(self) -> RunClock | None:
        """The run's clock while the session is started (read-only; a live view reads the time with it)."""
        return None if self._context is None else self._context.clock

    def start(self) -> Run:
        clock = RunClock.start()
        recording = Recording()
        stamp = datetime.now(timezone.utc).astimezone()
        run_id = new_run_id()
        self.run = Run(
            id=run_id,
            name=self.options.name or f"run-{stamp.strftime('%H%M%S')}",
            created=stamp.isoformat(timespec="seconds"),
            duration_ns=0,
            origin_wall_s=clock.origin_wall_s,
            cell_source=self.cell_source,
            environment=capture_environment(),
            options={**self.options.to_dict(), "main_thread_id": self.main_thread_id},
            recording=recording,
        )
        self._recorder = Recorder(
            clock,
            recording,
            capture_text=self.options.capture_text,
            run_id=run_id,
            propagate=self.options.propagate,
        )
        activate(self._recorder)
        recording.threads[self.main_thread_id] = _thread_name(self.main_thread_id)
        self._context = CollectorContext(
            clock=clock,
            recording=recording,
            pid=os.getpid(),
            main_thread_id=self.main_thread_id,
            rate_hz=self.options.rate,
            native=self.options.native,
            gil=self.options.gil,
            include_idle=self.options.idle,
            anchor_files=self.anchor_files,
            output_dir=self._open_run_dir(self.run),
        )
        self._start_collectors(self._context)
        self._context.window_start_ns = clock.now_ns()
        self._root = self._recorder.open_span(self.run.name, "cell", {})
        self._recorder.root_span_id = self._root.span_id
        self._start_otel_in(self._recorder)
        self._start_journal(self.run, self._context.output_dir)
        return self.run

    def _open_run_dir(self, run: Run) -> Path | None:
        """The run's directory, made now so that the recording can be journaled there; None where the store
        cannot be written (the save at the end says so)."""
        path = runs_dir(Path(self.options.store or default_store())) / run.id
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            return None
        return path

    def _start_journal(self, run: Run, path: Path | None) -> None:
        if path is None:
            return
        run.status, run.recorder = "recording", this_process()
        try:
            rundir.write_meta(run, path)
        except OSError as error:
            self.notices.append(f"the run's journal could not start ({error}); a crash would lose it")
            return
        self._journal = JournalWriter(run.recording, path)
        self._journal.start()

    def restart_cell_window(self) -> None:
        """Start the cell's time window (and its root span) now: what the adapter did after `start()`,
        such as opening the live view on the kernel's thread, is then not counted as the cell's."""
        if self._context is None or self._root is None:
            return
        now = self._context.clock.now_ns()
        self._context.window_start_ns = now
        self._root.start_ns = now

    def _start_collectors(self, context: CollectorContext) -> None:
        if self.options.cpu:
            cpu = CpuCollector()
            try:
                cpu.start(context)
                self._cpu = cpu
                if cpu.notice:
                    self.notices.append(cpu.notice)
            except Exception as error:
                self._skip("cpu", f"could not start ({error})")
        else:
            self.statuses.append(CollectorStatus("cpu", False, "disabled with --no-cpu"))
        if self.options.tokens:
            waiting: dict[str, Hook] = {}
            for hook in default_hooks():
                if hook.is_available()[0]:
                    self._install_hook(hook)
                else:
                    waiting[hook.name] = hook
            if waiting:
                # A library first imported inside the profiled code is instrumented as it loads.
                self._import_watcher = ImportWatcher(
                    list(waiting), lambda name: self._install_hook(waiting[name], late=True)
                )
                self._import_watcher.start()
        else:
            self.statuses.append(CollectorStatus("tokens", False, "disabled with --no-tokens"))
        self._start_gil_probe(context)
        self._start_server_metrics(context)
        self._serving.start(context)  # --server-profile, --attach
        self.notices.extend(self._serving.notices)
        self._serving.notices.clear()
        # Last, so torch.profiler's own start-up is not in the CPU profile's cell window.
        self._gpu = GpuCollectors(self.options)
        self._gpu.start(context)
        self.notices.extend(self._gpu.notices)
        self._gpu.notices.clear()

    def _start_gil_probe(self, context: CollectorContext) -> None:
        from workbench.collectors.gil_probe import GilProbe

        if not self.options.gil_probe:
            return  # opt-in (--gil-probe): its forced GIL hand-overs slow CPU-bound Python

        probe = GilProbe()
        available, reason = probe.is_available()
        if not available:
            self.statuses.append(CollectorStatus("gil", False, reason))
            return
        try:
            probe.start(context)
        except Exception as error:
            self._skip("gil", f"could not start ({error})")
            return
        self._gil_probe = probe

    def _start_server_metrics(self, context: CollectorContext) -> None:
        if not self.options.server:
            return
        from workbench.collectors.server_metrics import ServerMetricsCollector

        collector = ServerMetricsCollector(self.options.server, self.options.server_rate)
        try:
            collector.start(context)
        except Exception as error:
            self._skip("server", f"could not start ({error})")
            return
        self._server = collector

    def _stop_server_metrics(self) -> None:
        collector, self._server = self._server, None
        if collector is None:
            return
        try:
            self.statuses.extend(collector.stop())
            self.notices.extend(collector.notices())
        except Exception as error:
            self._skip("server", f"failed while stopping ({type(error).__name__}: {error})")

    def _start_otel_in(self, recorder: Recorder) -> None:
        """`--otel-in`: spans of the app's own OpenTelemetry instrumentation join the run (a notice when
        asked for and not possible; silent by default when there is no SDK TracerProvider)."""
        if self.options.otel_in is False:
            return
        from workbench.instrument.otel_in import OtelIn

        otel_in = OtelIn()
        available, reason = otel_in.is_available()
        if not available:
            self.statuses.append(CollectorStatus("otel-in", False, reason))
            if self.options.otel_in:
                self.notices.append(f"--otel-in: {reason}")
            return
        try:
            otel_in.start(recorder)
        except Exception as error:
            self._skip("otel-in", f"could not start ({type(error).__name__}: {error})")
            return
        self._otel_in = otel_in

    def _stop_otel_in(self) -> None:
        otel_in, self._otel_in = self._otel_in, None
        if otel_in is not None:
            self.statuses.append(CollectorStatus("otel-in", True, otel_in.stop()))

    def _install_hook(self, hook: Hook, late: bool = False) -> None:
        with self._hooks_lock:
            if late and self._import_watcher is None:
                return  # imported after the profile stopped
            try:
                hook.install()
            except Exception as error:
                hook.uninstall()
                self._skip(f"tokens:{hook.name}", f"could not instrument {hook.name} ({error})")
                return
            self._hooks.append(hook)
            reason = "instrumented when imported" if late else "instrumented"
            self.statuses.append(CollectorStatus(f"tokens:{hook.name}", True, reason))

    def print_notices(self) -> None:
        """Print each pending one-line notice to stderr once (a failed background OTLP export's too)."""
        from workbench.export.otel_background import take_notices

        self.notices.extend(take_notices())
        for notice in self.notices:
            print(f"workbench: {notice}", file=sys.stderr)
        self.notices.clear()

    def _skip(self, name: str, reason: str) -> None:
        self.statuses.append(CollectorStatus(name, False, reason))
        self.notices.append(f"{name}: {reason}")

    def stop(self, error: BaseException | None = None) -> Run:
        """Stop everything and save the run. Never raises for the profiler's own problems.

        Until the raw recording is saved, an interrupt is held back; one during the analysis after it
        stops the analysis only, and the run stays loadable ("unanalysed", with the reason)."""
        run, context, recorder = self.run, self._context, self._recorder
        assert run is not None and context is not None and recorder is not None
        end = context.clock.now_ns()
        context.window_end_ns = end
        if self._root is not None:
            self._root.end_ns = end
        with interrupts_held() as held:
            try:
                self._stop_hooks_and_collectors()
            finally:
                deactivate(recorder)
            _close_open_spans(run.recording, end)
            _name_threads(run.recording)
            run.duration_ns = end
            run.collectors = self.statuses
            if error is not None:
                run.error = f"{type(error).__name__}: {error}"
            run.status, run.status_detail, run.recorder = "unanalysed", "saved, not analysed yet", None
            path = self._save_recording(run)
        global _last_run
        _last_run = run
        if held.pressed:
            self._analysis_cut_short(run, path, "interrupted (KeyboardInterrupt) while the run was saved")
            return run
        try:
            run.metrics = self._metrics(run, context)
            self._serving.add_metrics(run)
            self._check_budget(run)
            self._find(run)
        except KeyboardInterrupt:
            self._analysis_cut_short(run, path, "interrupted (KeyboardInterrupt) during its analysis")
            return run
        except Exception as problem:  # a bug in an analysis must not cost the user the run
            self._analysis_cut_short(run, path, f"its analysis failed ({type(problem).__name__}: {problem})")
            return run
        run.status, run.status_detail = "complete", None
        self._save_analysis(run, path)
        self._export_otlp(run)
        return run

    def _export_otlp(self, run: Run) -> None:
        """`--otlp URL`: send the saved run to an OpenTelemetry backend on a daemon thread, off the cell's
        critical path; a failure is a notice at the next display (see export/otel_background.py)."""
        if not self.options.otlp:
            return
        from workbench.export.otel_background import export_in_background

        export_in_background(run, self.options.otlp)

    def _analysis_cut_short(self, run: Run, path: Path | None, why: str) -> None:
        run.status_detail = why
        self.notices.append(
            f"the run was saved with all its events but {why}: its metrics and findings may be missing"
        )
        if path is not None:
            try:
                rundir.write_meta(run, path)
            except OSError as problem:
                self.notices.append(f"the run's metadata could not be saved under {path}: {problem}")

    def _stop_hooks_and_collectors(self) -> None:
        self._stop_otel_in()
        if self._journal is not None:
            self._journal.stop()
            if self._journal.problem:
                self.notices.append(self._journal.problem)
        if self._gil_probe is not None:
            try:
                self.statuses.append(self._gil_probe.stop())
            except Exception as error:
                self.statuses.append(CollectorStatus("gil", False, f"failed while stopping ({error})"))
            self._gil_probe = None
        self._stop_server_metrics()
        if self._gpu is not None:
            self._gpu.stop()
            self.statuses.extend(self._gpu.statuses)
            self.notices.extend(self._gpu.notices)
            self._gpu = None
        if self.run is not None:
            self._serving.stop(self.run)  # after the GPU collectors: the server's ops join the run's table
            self.statuses.extend(self._serving.statuses)
            self.notices.extend(self._serving.notices)
        with self._hooks_lock:
            if self._import_watcher is not None:
                self._import_watcher.stop()
                self._import_watcher = None
            # Reverse order: a hook restores what it found, so the last one installed goes first.
            for hook in reversed(self._hooks):
                try:
                    hook.uninstall()
                except Exception as error:
                    self.notices.append(f"tokens:{hook.name}: could not restore {hook.name} ({error})")
            self._hooks.clear()
        if self._cpu is not None:
            try:
                self.statuses.insert(0, self._cpu.stop())
            except Exception as error:
                self.statuses.insert(0, CollectorStatus("cpu", False, f"failed while stopping ({error})"))
            self._cpu = None

    def _metrics(self, run: Run, context: CollectorContext) -> dict[str, Any]:
        cpu_ran = any(s.started and s.name.startswith("cpu") for s in run.collectors)
        rate = context.notes.get("cpu_rate_hz", self.options.rate)
        return run_metrics(
            run.recording,
            (context.window_start_ns, context.window_end_ns or run.duration_ns),
            context.notes,
            cpu_rate_hz=float(rate) if cpu_ran and isinstance(rate, int | float) else None,
            slo=self.options.slo,
            repeat=self.options.repeat,
            warmup=self.options.warmup,
        )

    def _check_budget(self, run: Run) -> None:
        if self.options.budget is None:
            return
        from workbench.session.budget_check import check_run

        try:
            _, run.metrics["budget"] = check_run(
                run, self.options.budget, self.options.baseline, self.options.store
            )
        except Exception as error:
            self.notices.append(f"the budget could not be checked: {type(error).__name__}: {error}")

    def _find(self, run: Run) -> None:
        from workbench.session.findings import add_findings

        try:
            self.notices.extend(add_findings(run, self.options))
        except Exception as error:
            self.notices.append(f"findings could not be computed: {type(error).__name__}: {error}")

    def _save_recording(self, run: Run) -> Path | None:
        """The raw recording and the metadata, saved whole; the journal is then no longer needed."""
        store = self.options.store or default_store()
        try:
            path = rundir.save_run(run, runs_dir(Path(store)))
        except OSError as error:
            self.notices.append(f"the run could not be saved under {store}: {error}")
            return None
        (path / JOURNAL_FILE).unlink(missing_ok=True)
        return path

    def _save_analysis(self, run: Run, path: Path | None) -> None:
        # report.html, trace.json and the speedscope file are written when first asked for (artifacts.py).
        if path is None:
            return
        try:
            rundir.write_meta(run, path)
        except OSError as error:
            self.notices.append(f"the run's metrics could not be saved under {path}: {error}")


def _close_open_spans(recording: Recording, end_ns: int) -> None:
    for span in recording.spans:
        if span.end_ns is None:
            span.end_ns = end_ns
            span.attrs["unfinished"] = True


def _thread_name(thread_id: int) -> str:
    for thread in threading.enumerate():
        if thread.ident == thread_id:
            return thread.name
    return f"thread {thread_id}"


def _name_threads(recording: Recording) -> None:
    for sample in recording.samples:
        if sample.thread_id not in recording.threads:
            recording.threads[sample.thread_id] = _thread_name(sample.thread_id)
