"""`workbench export RUN --format otlp [--endpoint URL]` and `--otlp URL` on a profiling session, against
the real OTLP/HTTP receiver of `test_otlp`: a one-line error and exit status 1 when the export does not
arrive, a usage error for an endpoint that is not a URL (fuzzed), and the session's export off the
cell's critical path, whose failure is a notice at the next display."""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk")

import workbench as wb
from workbench.cli import main
from workbench.export import EndpointError, check_url
from workbench.export.otel_background import take_notices, wait_for_exports
from workbench.export.otel_endpoint import resolve
from workbench.options import ProfileOptions
from workbench.session import ProfileSession
from workbench.store.index import runs_dir
from workbench.store.rundir import save_run

from .test_otlp import RUN_ID, Receiver, closed_port_url, genai_run
from .test_otlp import receiver as receiver  # the fixture

ENV_VARS = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    save_run(genai_run(), runs_dir(tmp_path))
    return tmp_path


def export(store: Path, *args: str) -> int:
    return main(["--store", str(store), "export", RUN_ID, "--format", "otlp", *args])


def test_export_sends_the_run(store: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]) -> None:
    assert export(store, "--endpoint", receiver.url) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"exported run {RUN_ID} to {receiver.url} (/v1/traces, /v1/metrics): 6 spans")
    assert len(receiver.spans()) == 6 and receiver.metrics


def test_export_reads_the_environment(
    store: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    assert export(store) == 0
    assert len(receiver.spans()) == 6


def test_an_unreachable_endpoint_exits_1_with_one_line(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = closed_port_url()
    assert export(store, "--endpoint", url) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"workbench export: error: could not reach {url}/v1/traces: Connection refused\n"


def test_a_non_2xx_answer_exits_1(
    store: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver.status = 404
    assert export(store, "--endpoint", receiver.url) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "answered HTTP 404" in err and "Traceback" not in err


def test_a_bad_environment_endpoint_exits_1(
    store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "4318")
    assert export(store) == 1
    err = capsys.readouterr().err
    assert err.startswith("workbench export: error: OTEL_EXPORTER_OTLP_ENDPOINT '4318' must start with http")


@pytest.mark.parametrize(
    "bad",
    [
        "localhost:4318",
        "ftp://collector:4318",
        "http://",
        "http://:4318",
        "http://host:99999",
        "http://host:abc",
        "http://host:0",
        "http://exa mple:4318",
        "http://host:4318/?token=1",
        "http://host:4318/#x",
        "http://[::1",
        "http://host\x00:4318",
        "",
        " ",
        "http://" + "a" * 3000,
    ],
)
def test_a_bad_endpoint_is_a_usage_error(store: Path, bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        export(store, "--endpoint", bad)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert "argument --endpoint: the URL" in last and "Traceback" not in err


def test_fuzzed_endpoints_are_accepted_as_urls_or_refused_clearly() -> None:
    rng = random.Random(18)
    alphabet = string.printable + "\x00\x7f\u202eé[]@%"
    pieces = [
        "http://",
        "https://",
        "HTTP://",
        "localhost",
        "127.0.0.1",
        ":",
        "4318",
        "/",
        "[::1]",
        "?",
        "#",
        "@",
    ]
    for _ in range(2000):
        text = "".join(
            rng.choice(pieces) if rng.random() < 0.6 else rng.choice(alphabet)
            for _ in range(rng.randint(0, 12))
        )
        try:
            url = check_url(text)
        except EndpointError as error:
            assert "\n" not in str(error)
            continue
        assert url.lower().startswith(("http://", "https://"))
        endpoints = resolve(url)
        assert endpoints.traces == url + "/v1/traces" and endpoints.metrics == url + "/v1/metrics"


def test_per_signal_environment_endpoints_are_used_as_they_are() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:4318/",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://metrics:9090/otlp/metrics",
    }
    endpoints = resolve(None, env)
    assert endpoints.traces == "http://base:4318/v1/traces"
    assert endpoints.metrics == "http://metrics:9090/otlp/metrics"
    assert resolve(None, {}).traces == "http://localhost:4318/v1/traces"


def test_endpoint_goes_with_otlp_only(
    store: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--store", str(store), "export", RUN_ID, "--format", "perfetto", "--endpoint", receiver.url])
    assert code == 2 and "--endpoint goes with --format otlp only" in capsys.readouterr().err
    assert not receiver.posts


# -- the session: --otlp URL -----------------------------------------------------------------------------
def _profiled(tmp_path: Path, otlp: str) -> ProfileSession:
    session = ProfileSession(ProfileOptions(name="otlp-cell", store=tmp_path, cpu=False, otlp=otlp))
    session.start()
    with wb.span("stage", kind="chain"), wb.llm_request(model="m", input_tokens=3) as request:
        request.chunk(1)
        request.chunk(2)
    return session


def test_a_profiled_cell_is_exported_after_it_is_saved(tmp_path: Path, receiver: Receiver) -> None:
    session = _profiled(tmp_path, receiver.url)
    run = session.stop()
    wait_for_exports(10.0)
    assert run.path is not None and (run.path / "run.json").exists()
    names = {s.name for s in receiver.spans()}
    assert {"otlp-cell", "stage", "chat m"} <= names
    assert receiver.resource()["fm_workbench.run.id"] == run.id
    assert receiver.metric("gen_ai.client.token.usage").histogram.data_points
    assert take_notices() == []


def test_a_failed_export_is_a_notice_at_the_next_display(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = closed_port_url()
    session = _profiled(tmp_path, url)
    run = session.stop()  # returns at once: the export runs on its own thread
    wait_for_exports(10.0)
    session.print_notices()
    err = capsys.readouterr().err
    reason = f"could not reach {url}/v1/traces: Connection refused"
    assert err == f"workbench: otlp: run {run.id} was not exported: {reason}\n"
    session.print_notices()
    assert capsys.readouterr().err == ""
