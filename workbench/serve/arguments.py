"""The server's command-line options, shared by `workbench serve` and `python -m workbench.serve`.

Stdlib only: `workbench` builds this parser on every invocation, so nothing heavy may load here.
Synthetic-only options default to None, so that giving one with `--backend model` is an error rather
than silently ignored.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.serve.config import (
    BACKENDS,
    BackendName,
    Faults,
    Scheduling,
    ServeConfig,
    SyntheticTiming,
    check_loopback,
)


def non_negative_ms(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 milliseconds, got {text!r}")
    return value


def rate(text: str) -> float:
    value = _number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a share between 0 and 1, got {text!r}")
    return value


def positive_int(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


def port_number(text: str) -> int:
    value = _integer(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0 (any free port) to 65535, got {text!r}")
    return value


def seed_number(text: str) -> int:
    return _integer(text)


def loopback_host(text: str) -> str:
    try:
        check_loopback(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


@dataclass(frozen=True)
class Option:
    dest: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    synthetic_only: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.dest.replace("_", "-")


TIMING = SyntheticTiming()
SCHEDULING = Scheduling()
OPTIONS = (
    Option("port", port_number, 8000, "TCP port on 127.0.0.1; 0 picks a free one"),
    Option("output_tokens", positive_int, 32, "tokens generated when a request gives no max_tokens"),
    Option("error_rate", rate, 0.0, "share of requests answered with HTTP 500"),
    Option("drop_rate", rate, 0.0, "share of streamed requests whose connection drops mid-stream"),
    Option("seed", seed_number, 0, "seed for faults, jitter and the model's random weights"),
    Option("ttft_ms", non_negative_ms, TIMING.ttft_ms, "ms from request arrival to the first token", True),
    Option("token_delay_ms", non_negative_ms, TIMING.token_delay_ms, "ms per token between chunks", True),
    Option("tokens_per_chunk", positive_int, TIMING.tokens_per_chunk, "tokens per later chunk", True),
    Option("jitter_ms", non_negative_ms, TIMING.jitter_ms, "uniform ± ms added to each delay", True),
    Option("max_num_seqs", positive_int, SCHEDULING.max_num_seqs, "requests running at once; more wait"),
    Option(
        "kv_cache_tokens",
        positive_int,
        SCHEDULING.kv_cache_tokens,
        "simulated KV-cache capacity in tokens (blocks of 16); when full, the newest request is preempted",
    ),
)


EPILOG = """\
endpoints: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health,
  GET /metrics (vLLM's Prometheus names), POST /start_profile, POST /stop_profile (with --profile-dir)

per-request headers (for exact tests):
  x-workbench-fail: 500 | drop    answer with that HTTP status (any 400-599), or drop a streamed
                                  response's connection after about half its tokens
  x-workbench-ttft-ms, x-workbench-token-delay-ms, x-workbench-tokens-per-chunk
                                  synthetic backend: this request's own timing

The server listens on 127.0.0.1 only: it has no authentication and injects faults on purpose.
"""


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--host", type=loopback_host, default="127.0.0.1", help="only 127.0.0.1 / localhost (no auth)"
    )
    parser.add_argument("--backend", choices=BACKENDS, default="synthetic", help="default: synthetic")
    for option in OPTIONS:
        kind = "synthetic backend: " if option.synthetic_only else ""
        parser.add_argument(
            option.flag,
            type=option.parse,
            default=None,
            help=f"{kind}{option.help} (default: {option.default})",
        )
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="model backend: cache directory of the tiny GPT-2 (default: ~/.cache/fm-workbench/tiny-gpt2)",
    )
    parser.add_argument(
        "--enable-per-request-metrics",
        action="store_true",
        help="add vLLM's per-request `metrics` object (queue, TTFT, generation time) to each response",
    )
    parser.add_argument(
        "--profile-dir",
        type=Path,
        default=None,
        help="where POST /start_profile and /stop_profile write torch.profiler traces (default: off)",
    )
    parser.add_argument(
        "--otlp-spans",
        type=Path,
        default=None,
        metavar="FILE",
        help="append each request's OpenTelemetry spans (vLLM's llm_request, in the trace of the "
        "traceparent it received) to FILE as OTLP JSON lines (default: off)",
    )


def config_from_namespace(namespace: argparse.Namespace) -> ServeConfig:
    """The config the parsed options describe; ValueError naming the option if they do not fit together."""
    values = vars(namespace)
    backend: BackendName = values["backend"]
    given = {o.dest: values[o.dest] for o in OPTIONS if values.get(o.dest) is not None}
    if backend != "synthetic":
        misplaced = [o.flag for o in OPTIONS if o.synthetic_only and o.dest in given]
        if misplaced:
            raise ValueError(f"{', '.join(misplaced)} only apply to --backend synthetic")
    if backend != "model" and values.get("model_dir") is not None:
        raise ValueError("--model-dir only applies to --backend model")
    chosen = {o.dest: given.get(o.dest, o.default) for o in OPTIONS}
    if chosen["kv_cache_tokens"] < 16:
        raise ValueError("--kv-cache-tokens must hold at least one block of 16 tokens")
    return ServeConfig(
        backend=backend,
        host=values["host"],
        port=chosen["port"],
        timing=SyntheticTiming(
            ttft_ms=chosen["ttft_ms"],
            token_delay_ms=chosen["token_delay_ms"],
            tokens_per_chunk=chosen["tokens_per_chunk"],
            jitter_ms=chosen["jitter_ms"],
        ),
        faults=Faults(error_rate=chosen["error_rate"], drop_rate=chosen["drop_rate"]),
        output_tokens=chosen["output_tokens"],
        seed=chosen["seed"],
        model_dir=values.get("model_dir"),
        scheduling=Scheduling(
            max_num_seqs=chosen["max_num_seqs"],
            kv_cache_tokens=chosen["kv_cache_tokens"],
            per_request_metrics=bool(values.get("enable_per_request_metrics")),
            profile_dir=values.get("profile_dir"),
            otlp_spans=values.get("otlp_spans"),
        ),
    )


def options_to_argv(options: Mapping[str, object]) -> list[str]:
    """Command-line arguments for keyword options (None means the default), checked as argparse would.

    Checking here, in the caller's process, turns a bad value into a ValueError at the call instead of
    a server that exits before it is ready.
    """
    by_dest = {o.dest: o for o in OPTIONS}
    argv: list[str] = []
    for dest, value in options.items():
        if value is None:
            continue
        option = by_dest.get(dest)
        if option is None:
            raise TypeError(f"unknown server option {dest!r}")
        try:
            option.parse(str(value))
        except argparse.ArgumentTypeError as error:
            raise ValueError(f"{dest}: {error}") from None
        argv += [option.flag, str(value)]
    return argv
