"""The `workbench` command on real saved runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import workbench as wb


def cli(*args: str, store: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "workbench.cli", "--store", str(store), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("store")
    with wb.profile(name="cli-run", store=root, cpu=False), wb.llm_request(model="m") as request:
        request.chunk(3)
        request.chunk(2)
    return root


def test_runs_lists_saved_runs(store: Path) -> None:
    out = cli("runs", store=store)
    assert out.returncode == 0, out.stderr
    assert "cli-run" in out.stdout and wb.runs(store)["id"].iloc[0] in out.stdout


def test_show_prints_the_summary(store: Path) -> None:
    out = cli("show", "cli-run", store=store)
    assert out.returncode == 0, out.stderr
    assert "cli-run" in out.stdout and "5" in out.stdout


@pytest.mark.parametrize(
    ("fmt", "check"), [("perfetto", "traceEvents"), ("speedscope", "$schema"), ("html", "<html")]
)
def test_export_writes_the_format(store: Path, tmp_path: Path, fmt: str, check: str) -> None:
    target = tmp_path / f"exported.{fmt}"
    out = cli("export", "cli-run", "--format", fmt, "-o", str(target), store=store)
    assert out.returncode == 0, out.stderr
    text = target.read_text()
    assert check in text
    if fmt != "html":
        json.loads(text)


def test_note_is_saved_and_shown(tmp_path: Path) -> None:
    with wb.profile(name="noted", store=tmp_path, cpu=False):
        pass
    out = cli("note", "noted", "warm cache <b>", "--range", "0", "1", store=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "note added to run 'noted'" in out.stdout and "on 0.0–1.0 ms" in out.stdout
    shown = cli("show", "noted", store=tmp_path).stdout
    assert "1. [0.0–1.0 ms] warm cache <b>" in shown
    exported = cli("export", "noted", "--format", "html", store=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert "warm cache &lt;b&gt;" in Path(exported.stdout.strip()).read_text()
    late = cli("note", "-1", "too late", "--at", "1e9", store=tmp_path)
    assert late.returncode == 2 and "is after the end of run 'noted'" in late.stderr


def test_corrupt_run_gives_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    with wb.profile(name="to-corrupt", store=tmp_path, cpu=False) as run:
        pass
    assert run.path is not None
    (run.path / "run.json").write_text("{ not json")
    out = cli("show", str(run.path), store=tmp_path)
    assert out.returncode == 2
    assert "run.json" in out.stderr and "not valid JSON" in out.stderr
    assert "Traceback" not in out.stderr
    with pytest.raises(wb.CorruptRunError, match="not valid JSON"):
        wb.load_run(run.path)
    listing = cli("runs", store=tmp_path)
    assert listing.returncode == 0 and "unreadable" in listing.stdout


def test_unknown_run_names_the_problem(tmp_path: Path) -> None:
    out = cli("show", "no-such-run", store=tmp_path)
    assert out.returncode == 2 and "no run 'no-such-run'" in out.stderr


def test_profile_a_script(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(
        "def cli_unique_busy():\n    return sum(i * i for i in range(3_000_000))\ncli_unique_busy()\n"
    )
    out = cli("profile", "--name", "script-run", str(script), store=tmp_path / "s")
    assert out.returncode == 0, out.stderr
    run = wb.load_run("script-run", store=tmp_path / "s")
    samples = run.samples
    in_busy = samples[samples["stack"].str.contains("cli_unique_busy")]["duration_ms"].sum()
    assert in_busy > 0.5 * samples["duration_ms"].sum(), samples


def test_help_lists_the_profile_options() -> None:
    out = subprocess.run([sys.executable, "-m", "workbench.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--rate" in out.stdout and "--no-tokens" in out.stdout


def test_profile_records_requests_of_a_client_the_script_imports_itself(tmp_path: Path) -> None:
    from workbench.serve import start_server

    script = tmp_path / "client.py"
    script.write_text(
        "import sys\n"
        "import openai  # imported only after the profile started: instrumented as it loads\n"
        "client = openai.OpenAI(base_url=sys.argv[1], api_key='x', max_retries=0)\n"
        "for _ in client.chat.completions.create(\n"
        "    model='m', messages=[{'role': 'user', 'content': 'hi'}], max_tokens=5, stream=True\n"
        "):\n"
        "    pass\n"
    )
    store = tmp_path / "store"
    with start_server(ttft_ms=20, token_delay_ms=2) as server:
        out = cli(
            "profile",
            "--no-cpu",
            "--slo",
            "ttft_ms=1000",
            "--name",
            "script",
            str(script),
            server.base_url,
            store=store,
        )
    assert out.returncode == 0, out.stderr
    run = wb.load_run(str(wb.runs(store)["path"].iloc[0]))
    (row,) = run.metrics["tokens"]["per_request"]
    assert row["output_tokens"] == 5 and row["model"] == "m"
    assert run.metrics["tokens"]["goodput"]["met"] == 1
    assert any(c.name == "tokens:openai" and "imported" in c.reason for c in run.collectors)
    shown = cli("show", "script", store=store)
    assert "goodput 1/1" in shown.stdout
