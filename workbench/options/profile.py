"""The profile options, one parser shared by the `%%fmprofile` magic and the `workbench` CLI."""

from __future__ import annotations

import argparse
import shlex
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn

from workbench.options.cell import add_cell_options, cell_options

MAX_RATE_HZ = 1000
MAX_NVML_RATE_HZ = 100
DEFAULT_NVML_RATE_HZ = 10.0
DEFAULT_SERVER_RATE_HZ = 10.0
MAX_SERVER_RATE_HZ = 100
MAX_PID = 4_194_304  # Linux's pid_max ceiling


class OptionsError(ValueError):
    """Bad profile options; the message names the option and lists the valid ones."""


@dataclass(frozen=True)
class ProfileOptions:
    name: str | None = None
    store: Path | None = None
    rate: int = 100
    native: bool = False
    gil: bool = False
    idle: bool = False
    cpu: bool = True
    tokens: bool = True
    # None: on when torch is imported and CUDA is available (see collectors/torch_ops.py)
    kernels: bool | None = None
    gil_probe: bool = False
    # None: the default rate, and no notice when there is no NVIDIA driver; 0 turns telemetry off
    nvml_rate: float | None = None
    capture_text: bool = False
    slo: dict[str, float] | None = None
    quiet: bool = False
    budget: str | None = None
    baseline: str | None = None
    repeat: int | None = None
    warmup: int = 0
    sweep: dict[str, list[Any]] | None = None
    ignore_findings: tuple[str, ...] = ()
    # Prometheus text endpoints scraped during the run (a server's /metrics; a base URL gets /metrics)
    server: tuple[str, ...] = ()
    server_rate: float = DEFAULT_SERVER_RATE_HZ
    # OTLP/HTTP base endpoint the run is exported to (None: $OTEL_EXPORTER_OTLP_ENDPOINT or no export)
    otlp: str | None = None
    # other local processes sampled into their own lanes
    attach: tuple[int, ...] = ()
    # directory a vLLM-style server writes its torch.profiler traces into (/start_profile, /stop_profile)
    server_profile: str | None = None
    # send a W3C traceparent naming each captured LLM request's span (instrument/trace_context.py)
    propagate: bool = True
    # an OTLP JSON file of the servers' spans, joined under the requests whose trace context they carry
    server_spans: str | None = None
    # record spans of the app's own OpenTelemetry instrumentation (None: when the global provider is an SDK
    # one, silently skipped otherwise; True: a notice when it cannot; False: off)
    otel_in: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["store"] = None if self.store is None else str(self.store)
        return out


def _rate(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of samples per second, got {text!r}"
        ) from None
    if not 1 <= value <= MAX_RATE_HZ:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_RATE_HZ} Hz, got {value}")
    return value


def _nvml_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected samples per second, got {text!r}") from None
    if not 0 <= value <= MAX_NVML_RATE_HZ:
        raise argparse.ArgumentTypeError(f"must be between 0 (off) and {MAX_NVML_RATE_HZ} Hz, got {text}")
    return value


def _server_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected scrapes per second, got {text!r}") from None
    if not 0 < value <= MAX_SERVER_RATE_HZ:
        raise argparse.ArgumentTypeError(f"must be above 0 and at most {MAX_SERVER_RATE_HZ} Hz, got {text}")
    return value


def _http_url(text: str) -> str:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError for a port out of range or not a number
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a URL: {text!r} ({error})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"expected an http:// or https:// URL, got {text!r}")
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise argparse.ArgumentTypeError(f"a URL cannot contain spaces or control characters: {text!r}")
    del port
    return text


def _otlp_url(text: str) -> str:
    """What `workbench export --format otlp` would accept, checked now (export's own `check_url`)."""
    from workbench.export import EndpointError, check_url

    try:
        return check_url(text, "the OTLP endpoint")
    except EndpointError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _pid(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a process id, got {text!r}") from None
    if not 1 <= value <= MAX_PID:
        raise argparse.ArgumentTypeError(f"a process id is between 1 and {MAX_PID}, got {text}")
    return value


def _directory(text: str) -> str:
    if not text.strip() or "\x00" in text:
        raise argparse.ArgumentTypeError(f"expected a directory, got {text!r}")
    return text


def _finding_kind(text: str) -> str:
    from workbench.analysis.findings import UnknownFindingKind, check_kinds

    try:
        check_kinds([text])
    except UnknownFindingKind as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _slo(text: str) -> dict[str, float]:
    from workbench.analysis.slo import parse_slo

    try:
        return parse_slo(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _budget(text: str) -> str:
    from workbench.analysis.budget import BudgetError, parse_budget

    try:
        parse_budget(text)
    except BudgetError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def add_profile_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", help="a name for the run (default: run-<time>)")
    parser.add_argument(
        "--store", type=Path, help="where runs are saved (default: $WORKBENCH_STORE or ./.fmprofile)"
    )
    parser.add_argument(
        "--rate", type=_rate, default=100, metavar="HZ", help="CPU samples per second (default: 100)"
    )
    parser.add_argument(
        "--native",
        action="store_true",
        help="include C/C++/Cython frames; py-spy must pause the process for each sample "
        "(blocking mode), which costs far more (~+30%% on a Python loop vs ~+1%% without)",
    )
    parser.add_argument(
        "--gil", action="store_true", help="only samples of threads holding the GIL (py-spy --gil)"
    )
    parser.add_argument(
        "--idle", action="store_true", help="keep idle samples (threads with no user code on the stack)"
    )
    parser.add_argument("--no-cpu", dest="cpu", action="store_false", help="do not sample the CPU")
    parser.add_argument(
        "--no-tokens",
        dest="tokens",
        action="store_false",
        help="do not record LLM requests (transformers generate(), openai, httpx)",
    )
    kernels = parser.add_mutually_exclusive_group()
    kernels.add_argument(
        "--kernels",
        dest="kernels",
        action="store_const",
        const=True,
        default=None,
        help="trace torch operators and, with CUDA, GPU kernels and copies (torch.profiler); on by default "
        "when torch is imported and CUDA is available",
    )
    kernels.add_argument(
        "--no-kernels", dest="kernels", action="store_const", const=False, help="do not run torch.profiler"
    )
    parser.add_argument(
        "--gil-probe",
        action="store_true",
        help="measure how long threads wait for the GIL (a thread waking every 5 ms; feeds the "
        "gil_contention finding). Off by default: its GIL hand-overs slowed CPU-bound Python by up to "
        "~20%% on a 2-core machine",
    )
    parser.add_argument(
        "--nvml-rate",
        type=_nvml_rate,
        metavar="HZ",
        help=f"GPU telemetry samples per second from NVML (default: {DEFAULT_NVML_RATE_HZ:g}; 0: off)",
    )
    parser.add_argument(
        "--capture-text",
        action="store_true",
        help="store prompt and completion text with the requests (off by default: only counts and timings)",
    )
    parser.add_argument(
        "--slo",
        type=_slo,
        metavar="KEY=MS,...",
        help="service-level objectives for goodput, e.g. ttft_ms=200,tpot_ms=50,e2e_ms=2000 "
        "(keys: ttft_ms, tpot_ms, itl_ms, e2e_ms)",
    )
    parser.add_argument("--quiet", action="store_true", help="no dashboard; the run is still saved")
    parser.add_argument(
        "--ignore-finding",
        dest="ignore_findings",
        type=_finding_kind,
        action="append",
        default=[],
        metavar="KIND",
        help="do not report findings of this kind for this run (repeat for more; `workbench findings` "
        "lists the kinds)",
    )
    parser.add_argument(
        "--budget",
        type=_budget,
        metavar="BUDGETS",
        help="performance budgets checked after the run, e.g. 'ttft_ms.p90<=250, e2e_ms.p50<=+10%%' "
        "(a signed %% is relative to --baseline); pass/FAIL is printed and saved with the run",
    )
    _add_serving_options(parser)
    parser.add_argument(
        "--baseline",
        metavar="RUN",
        help="the run relative budgets compare with: id, id prefix, name, directory, or -1 (the latest "
        "saved run before this one)",
    )


def _add_serving_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        type=_http_url,
        action="append",
        default=[],
        metavar="URL",
        help="scrape this Prometheus endpoint during the run (vLLM, SGLang, TGI or `workbench serve`: a "
        "base URL such as http://127.0.0.1:8000 gets /metrics); repeat for more servers",
    )
    parser.add_argument(
        "--server-rate",
        type=_server_rate,
        default=DEFAULT_SERVER_RATE_HZ,
        metavar="HZ",
        help=f"server scrapes per second (default: {DEFAULT_SERVER_RATE_HZ:g})",
    )
    parser.add_argument(
        "--otlp",
        type=_otlp_url,
        metavar="URL",
        help="export the run over OTLP/HTTP to this base endpoint (/v1/traces and /v1/metrics are appended)",
    )
    parser.add_argument(
        "--attach",
        type=_pid,
        action="append",
        default=[],
        metavar="PID",
        help="also sample this local process (py-spy) into its own lanes; repeat for more",
    )
    parser.add_argument(
        "--server-profile",
        type=_directory,
        metavar="DIR",
        help="bracket the run with the server's /start_profile and /stop_profile and import the "
        "torch.profiler traces it writes into DIR",
    )
    _add_otel_in_options(parser)


def _add_otel_in_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-propagate",
        dest="propagate",
        action="store_false",
        help="do not send a W3C traceparent header with captured LLM requests (one already set is kept)",
    )
    parser.add_argument(
        "--server-spans",
        type=_directory,
        metavar="FILE",
        help="join the servers' OpenTelemetry spans from this OTLP JSON file (one export request per line, "
        "as the Collector's file exporter writes) under the requests whose traceparent they carry",
    )
    otel_in = parser.add_mutually_exclusive_group()
    otel_in.add_argument(
        "--otel-in",
        dest="otel_in",
        action="store_const",
        const=True,
        default=None,
        help="record the spans of the app's own OpenTelemetry instrumentation (OpenInference, "
        "opentelemetry-instrumentation-*) as pipeline spans, with a notice if there is no SDK "
        "TracerProvider; by default on, silently, when the global provider is an SDK one",
    )
    otel_in.add_argument(
        "--no-otel-in", dest="otel_in", action="store_const", const=False, help="do not record them"
    )


class _RaisingParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise OptionsError(f"{message}\n{self.format_usage().strip()}")


def profile_parser(prog: str = "%%fmprofile") -> argparse.ArgumentParser:
    parser = _RaisingParser(
        prog=prog,
        description="Profile a cell: CPU flame graph (py-spy), LLM token metrics and pipeline spans on one "
        "clock; the run is saved under .fmprofile/runs/<run-id>/.",
        add_help=False,
    )
    add_profile_options(parser)
    add_cell_options(parser)
    return parser


def parse_options(line: str) -> ProfileOptions:
    try:
        words = shlex.split(line)
    except ValueError as error:
        raise OptionsError(f"cannot parse options {line!r}: {error}") from None
    return from_namespace(profile_parser().parse_args(words))


def from_namespace(namespace: argparse.Namespace) -> ProfileOptions:
    return ProfileOptions(
        name=namespace.name,
        store=namespace.store,
        rate=namespace.rate,
        native=namespace.native,
        gil=namespace.gil,
        idle=namespace.idle,
        cpu=namespace.cpu,
        tokens=namespace.tokens,
        kernels=namespace.kernels,
        nvml_rate=namespace.nvml_rate,
        gil_probe=namespace.gil_probe,
        capture_text=namespace.capture_text,
        slo=namespace.slo,
        quiet=namespace.quiet,
        budget=namespace.budget,
        baseline=namespace.baseline,
        ignore_findings=tuple(namespace.ignore_findings),
        server=tuple(namespace.server),
        server_rate=namespace.server_rate,
        otlp=namespace.otlp,
        attach=tuple(namespace.attach),
        server_profile=namespace.server_profile,
        propagate=namespace.propagate,
        server_spans=namespace.server_spans,
        otel_in=namespace.otel_in,
        **_cell_options(namespace),
    )


def _cell_options(namespace: argparse.Namespace) -> dict[str, Any]:
    try:
        return cell_options(namespace)
    except ValueError as error:
        raise OptionsError(str(error)) from None
