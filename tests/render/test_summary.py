"""The plain-text and one-line summaries, for full runs and for runs that recorded little or nothing."""

from __future__ import annotations

from workbench.model import CollectorStatus, Recording, StackSample
from workbench.render import summary_line, summary_text
from workbench.render.header import LINE_PX, HeaderRenderer

from .synthetic import MS, bare_run, frame, http_run, realistic_run


def test_full_run_summary_has_the_headline_numbers() -> None:
    run = realistic_run()
    text = summary_text(run)
    tokens = run.metrics["tokens"]
    assert "1.200 s" in text
    assert f"{run.metrics['cpu']['samples']:,} CPU samples at 200 Hz" in text
    assert f"{tokens['output_tokens']} output tokens in 2 request(s)" in text
    assert f"{tokens['output_tokens_per_s']:,.1f} tokens/s" in text
    assert f"TTFT p50 {tokens['ttft_ms']['p50']:,.1f} ms p90 {tokens['ttft_ms']['p90']:,.1f} ms" in text
    assert run.id in text and str(run.path) in text


def test_summary_names_skipped_collectors_and_why() -> None:
    text = summary_text(realistic_run())
    assert "torch: torch is not installed" in text
    assert "nvml: NVML library not found (no NVIDIA driver)" in text
    assert "ran: pyspy, spans" in text


def test_summary_lists_the_top_five_functions_in_order() -> None:
    run = realistic_run()
    text = summary_text(run)
    top = run.metrics["cpu"]["top_functions"]
    positions = [text.index(f"  {f['function']}  ({f['file']}:{f['line']})") for f in top[:5]]
    assert positions == sorted(positions)
    if len(top) > 5:
        assert f"  {top[5]['function']}  (" not in text


def test_run_with_no_samples_no_tokens_and_no_metrics() -> None:
    run = bare_run(
        Recording(), 50.0, collectors=[CollectorStatus("pyspy", False, "py-spy not found on PATH")]
    )
    text = summary_text(run)
    line = summary_line(run)
    assert "no LLM requests recorded" in text and "no LLM requests recorded" in line
    assert "no CPU samples" in text
    assert "pyspy: py-spy not found on PATH" in text
    assert "top" not in text
    assert "\n" not in line


def test_samples_without_cpu_metrics_are_summarised_from_the_recording() -> None:
    rec = Recording()
    stack = rec.intern_stack([frame("outer"), frame("hot")])
    for i in range(3):
        rec.add_sample(StackSample(i * 10 * MS, 1, stack, 10 * MS))
    text = summary_text(bare_run(rec))
    assert "3 CPU samples" in text
    assert "100.0%" in text and "hot" in text


def test_failed_cell_and_dropped_events_are_reported() -> None:
    run = realistic_run()
    run.error = "ValueError"
    run.recording.dropped["samples"] = 7
    assert "ValueError" in summary_text(run) and "ValueError" in summary_line(run)
    assert "samples: 7" in summary_text(run)


def test_one_line_summary_is_one_line_with_the_key_numbers() -> None:
    line = summary_line(realistic_run())
    assert "\n" not in line
    assert line.startswith("rag-v2: 1.200 s wall")
    assert "2 collector(s) skipped" in line


def test_requests_goodput_breakdown_and_critical_path_in_the_text() -> None:
    text = summary_text(http_run())
    assert "  requests     6 (1 failed) · 2 models · max 3 in flight" in text
    assert "  SLO          goodput 2/6 (33%) meet ttft_ms≤60, tpot_ms≤15; 3.0 req/s" in text
    assert "  breakdown    mean queue 3.2 ms, connect 4.5 ms, headers 32.2 ms, first token 35.0 ms" in text
    assert "  critical     path 1,000.0 ms: llm 550.0 ms (55%), cell 270.0 ms (27%), parse 90.0 ms" in text
    assert "  parallel     estimated: 140.0 ms could be saved if 3 independent sequential LLM calls" in text
    # Wrapped under the value column, so the report's height is known from the line count.
    assert all(len(line) <= 100 for line in text.splitlines() if not line.startswith("  run "))


def test_goodput_in_the_one_line_summary() -> None:
    line = summary_line(http_run())
    assert "goodput 2/6 (33%)" in line and "\n" not in line


def test_no_slo_no_goodput_and_no_stage_lines_without_a_cell_root() -> None:
    text = summary_text(realistic_run())
    assert "goodput" not in text and "SLO" not in text
    assert "critical" not in text and "parallel" not in text
    assert "  requests     2 (0 failed) · max 1 in flight" in text


def test_a_run_saved_without_the_new_metrics_gets_the_same_text() -> None:
    assert summary_text(http_run(with_metrics=False)) == summary_text(http_run())


def test_header_shows_goodput_on_a_line_of_its_own() -> None:
    with_slo = HeaderRenderer().render(http_run())
    assert "goodput 2/6 (33%) meet ttft_ms≤60, tpot_ms≤15; 3.0 req/s" in with_slo.text
    without = http_run()
    without.metrics["tokens"].pop("goodput")
    plain = HeaderRenderer().render(without)
    assert "goodput" not in plain.text
    assert with_slo.min_height == plain.min_height + LINE_PX  # taller still where a line wraps
