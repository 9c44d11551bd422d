"""The GPU collectors inside a profile: NVML telemetry (a scripted NVML here), notices, and the GPU panel."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import pytest

import workbench as wb
from tests.gpu_fakes import FakeNvml, FakeProbe
from workbench.collectors import gpu_telemetry
from workbench.collectors.gpu_memory import CudaMemory
from workbench.model.series import ALLOCATED_BYTES, MEM_USED_BYTES, UTIL_PCT, nvml_series, torch_series
from workbench.render.gpu_panel_view import GpuPanelView
from workbench.render.html_output import report_html
from workbench.render.summary import summary_text


@pytest.fixture
def fake_nvml(monkeypatch: pytest.MonkeyPatch) -> FakeNvml:
    api = FakeNvml()
    probe = FakeProbe([CudaMemory(0, 3 << 30, 4 << 30)])
    collector = functools.partial(gpu_telemetry.GpuTelemetryCollector, api=api, memory_probe=probe)
    monkeypatch.setattr(gpu_telemetry, "GpuTelemetryCollector", collector)
    return api


def test_telemetry_is_recorded_summarised_and_drawn(fake_nvml: FakeNvml, tmp_path: Path) -> None:
    with wb.profile(store=tmp_path, cpu=False, nvml_rate=50) as run, wb.span("work"):
        time.sleep(0.4)
    series = {c.series for c in run.recording.counters}
    assert {
        nvml_series(0, UTIL_PCT),
        nvml_series(1, MEM_USED_BYTES),
        torch_series(0, ALLOCATED_BYTES),
    } <= series
    started = {c.name: c for c in run.collectors}
    assert started["nvml"].started and "H100" in started["nvml"].reason
    gpu = run.metrics["gpu"]
    assert gpu["telemetry"][nvml_series(0, UTIL_PCT)]["mean"] == 50
    assert 25 <= gpu["sampler"]["rate_hz_achieved"] <= 55
    assert gpu["device_info"][0]["name"] == "NVIDIA H100 80GB HBM3"
    work = next(p for p in gpu["memory_peaks"] if p["name"] == "work")
    assert work["peak_bytes"] == 3 << 30
    assert fake_nvml.shutdowns == 1
    assert "GPU 0 util mean 50%" in summary_text(run)
    view = GpuPanelView.from_run(run)
    titles = [track.title for track in view.tracks]
    assert titles[:2] == ["utilisation %", "memory GiB"]
    memory = next(t for t in view.tracks if t.title == "memory GiB")
    allocated = next(line for line in memory.lines if line.series == torch_series(0, ALLOCATED_BYTES))
    assert set(allocated.values) == {3.0}
    page = report_html(run)
    assert "gpu_track_utilisation" in page and "gpu_series_gpu0.util_pct" in page


def test_asked_for_telemetry_without_a_driver_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    available, _ = gpu_telemetry.GpuTelemetryCollector().is_available()
    with wb.profile(store=tmp_path, cpu=False, nvml_rate=5) as run:
        pass
    status = next(c for c in run.collectors if c.name == "nvml")
    if status.started:
        pytest.skip("this machine has an NVIDIA driver")
    assert "NVIDIA driver" in status.reason or not available
    assert capsys.readouterr().err.count("workbench: nvml:") == 1


def test_unasked_telemetry_without_a_driver_is_silent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with wb.profile(store=tmp_path, cpu=False) as run:
        pass
    if any(c.name == "nvml" and c.started for c in run.collectors):
        pytest.skip("this machine has an NVIDIA driver")
    assert not any(c.name == "nvml" for c in run.collectors)
    assert "nvml" not in capsys.readouterr().err and "gpu" not in run.metrics


def test_nvml_rate_zero_turns_it_off(fake_nvml: FakeNvml, tmp_path: Path) -> None:
    with wb.profile(store=tmp_path, cpu=False, nvml_rate=0) as run:
        pass
    assert any(c.name == "nvml" and "--nvml-rate 0" in c.reason for c in run.collectors)
    assert not run.recording.counters and fake_nvml.shutdowns == 0
