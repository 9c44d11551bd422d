"""`wb.profile()`: the same machinery as `%%fmprofile`, as a context manager for scripts and tests."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from workbench.analysis.slo import format_slo, parse_slo
from workbench.model.run import Run
from workbench.options import ProfileOptions
from workbench.options.profile import DEFAULT_SERVER_RATE_HZ
from workbench.session import ProfileSession


class profile:
    """Profile the block; the `Run` it yields is filled in and saved when the block ends.

    Options mirror `%%fmprofile`: `name`, `store`, `rate`, `native`, `gil`, `idle`, `cpu`, `tokens`,
    `kernels` (None: on when torch is imported and CUDA is available), `nvml_rate` (Hz; 0: off), `gil_probe`,
    `capture_text`, and `slo` (a mapping such as `{"ttft_ms": 200}` or the magic's text form);
    `budget` (e.g. "wall_s<=0.5, e2e_ms.p50<=+10%") and `baseline` (a run key, or "-1") are checked when
    the block ends, into `run.metrics["budget"]` (a failing budget never raises here). Findings are in
    `run.findings`; `ignore_findings` leaves kinds out. `server` (a URL or several) scrapes Prometheus
    endpoints at `server_rate` Hz into `run.telemetry` and `run.metrics["server"]`. `otlp` (a base URL)
    exports the run over OTLP/HTTP when the block ends; `attach` (a PID or several) samples other local
    processes with py-spy into `run.attached`; `server_profile` (a directory) brackets the block with the
    `server`s' `/start_profile` and `/stop_profile` and imports the torch.profiler traces written there.
    `propagate=False` sends no W3C `traceparent` with captured requests; `server_spans` (an OTLP JSON
    file) joins the servers' spans under the requests they belong to; `otel_in` records the spans of the
    app's own OpenTelemetry instrumentation (None: when there is an SDK TracerProvider; True: say why not).
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        store: str | Path | None = None,
        rate: int = 100,
        native: bool = False,
        gil: bool = False,
        idle: bool = False,
        cpu: bool = True,
        tokens: bool = True,
        kernels: bool | None = None,
        nvml_rate: float | None = None,
        gil_probe: bool = False,
        capture_text: bool = False,
        slo: str | Mapping[str, float] | None = None,
        budget: str | None = None,
        baseline: str | None = None,
        ignore_findings: tuple[str, ...] = (),
        server: str | Sequence[str] = (),
        server_rate: float = DEFAULT_SERVER_RATE_HZ,
        otlp: str | None = None,
        attach: int | Sequence[int] = (),
        server_profile: str | Path | None = None,
        propagate: bool = True,
        server_spans: str | Path | None = None,
        otel_in: bool | None = None,
    ) -> None:
        self.options = ProfileOptions(
            name=name,
            store=None if store is None else Path(store),
            rate=rate,
            native=native,
            gil=gil,
            idle=idle,
            cpu=cpu,
            tokens=tokens,
            kernels=kernels,
            nvml_rate=nvml_rate,
            gil_probe=gil_probe,
            capture_text=capture_text,
            slo=_slo(slo),
            quiet=True,
            budget=_budget(budget),
            baseline=baseline,
            ignore_findings=_ignored(ignore_findings),
            server=(server,) if isinstance(server, str) else tuple(server),
            server_rate=server_rate,
            otlp=_otlp(otlp),
            attach=(attach,) if isinstance(attach, int) else tuple(int(pid) for pid in attach),
            server_profile=None if server_profile is None else str(server_profile),
            propagate=propagate,
            server_spans=None if server_spans is None else str(server_spans),
            otel_in=otel_in,
        )
        self._session: ProfileSession | None = None

    def __enter__(self) -> Run:
        caller = sys._getframe(1).f_code.co_filename
        self._session = ProfileSession(self.options, anchor_files=frozenset({caller}))
        run = self._session.start()
        self._session.print_notices()
        return run

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._session is not None
        self._session.stop(error=exc)
        self._session.print_notices()


def _otlp(url: str | None) -> str | None:
    """The OTLP base URL, checked the way `--otlp` and `workbench export` check it (`EndpointError`)."""
    if url is None:
        return None
    from workbench.export import check_url

    return check_url(url, "otlp")


def _ignored(kinds: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Finding kinds to leave out, checked the way --ignore-finding is (ValueError naming the bad one)."""
    from workbench.analysis.findings import check_kinds

    check_kinds(kinds)
    return tuple(kinds)


def _slo(slo: str | Mapping[str, float] | None) -> dict[str, float] | None:
    """The SLO, validated the way `--slo` is (ValueError naming the bad part)."""
    if slo is None:
        return None
    return parse_slo(slo if isinstance(slo, str) else format_slo(slo))


def _budget(text: str | None) -> str | None:
    """The budget text, validated the way `--budget` is (`BudgetError`, a ValueError, with a caret)."""
    if text is not None:
        from workbench.analysis.budget import parse_budget

        parse_budget(text)
    return text
