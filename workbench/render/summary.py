"""The run summary: one line for a notebook's status, and a plain-text block for terminals and reports.

Metrics come from `run.metrics`; when a key is missing (a collector did not run, or an older run) the
summary says so, or derives the numbers from the recording, instead of failing.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

from workbench.analysis.cpu import top_functions
from workbench.model.finding import Finding
from workbench.model.run import Run
from workbench.render.findings_text import findings_text
from workbench.render.gpu_summary import gpu_lines, gpu_phrase
from workbench.render.model_view import goodput_phrase
from workbench.render.notes_view import NotesView
from workbench.render.run_metrics import token_metrics_of
from workbench.render.stage_view import StageView

TOP_N = 5
TOP_FINDINGS = 3
# Long lines are wrapped here, under their value's column, so the report's height stays computable.
WRAP_WIDTH = 100
VALUE_COLUMN = 15
NO_REQUESTS = "no LLM requests recorded"
BREAKDOWN_NAMES = {
    "queue_ms": "queue",
    "connect_ms": "connect",
    "headers_ms": "headers",
    "first_token_ms": "first token",
    "decode_ms": "decode",
    "tail_ms": "tail",
    "parse_ms": "parse (during decode)",
}


@dataclass(frozen=True)
class SummaryView:
    name: str
    run_id: str
    path: str
    wall_s: float
    cpu: dict[str, Any] | None
    tokens: dict[str, Any] | None
    ran: list[str]
    skipped: list[tuple[str, str]]
    error: str | None
    dropped: dict[str, int]
    stages: StageView
    gpu: dict[str, Any] | None
    findings: list[Finding]
    notes: NotesView
    # Set for a run that is not complete: (status, why), e.g. ("crashed", "the kernel (pid …) died …").
    state: tuple[str, str] | None = None

    @classmethod
    def from_run(cls, run: Run) -> SummaryView:
        return cls(
            name=run.name,
            run_id=run.id,
            path=str(run.path) if run.path is not None else "(not saved)",
            wall_s=run.wall_s,
            cpu=_cpu_metrics(run),
            tokens=token_metrics_of(run),
            ran=[c.name + (f" ({c.reason})" if c.reason else "") for c in run.collectors if c.started],
            skipped=[(c.name, c.reason or "no reason given") for c in run.collectors if not c.started],
            error=run.error,
            dropped=dict(run.recording.dropped),
            stages=StageView.from_run(run),
            gpu=run.metrics.get("gpu") if isinstance(run.metrics.get("gpu"), dict) else None,
            findings=run.findings,
            notes=NotesView.from_run(run),
            state=None if run.status == "complete" else (run.status, run.status_detail or ""),
        )

    def line(self) -> str:
        parts = [f"{self.name}: {self.wall_s:.3f} s wall", self.cpu_phrase(), self.token_phrase()]
        gpu = gpu_phrase(self.gpu)
        if gpu:
            parts.append(gpu)
        good = (self.tokens or {}).get("goodput")
        if good and good.get("requests"):
            share = good.get("share")
            percent = f" ({share:.0%})" if share is not None else ""
            parts.append(f"goodput {good.get('met', 0)}/{good['requests']}{percent}")
        if self.findings:
            parts.append(f"{len(self.findings)} finding(s)")
        if self.skipped:
            parts.append(f"{len(self.skipped)} collector(s) skipped")
        if self.error:
            parts.append(f"cell raised {self.error}")
        if self.state:
            parts.append(self.state[0])
        return " · ".join(parts)

    def text(self) -> str:
        lines = [
            f"FM Workbench run {self.name!r}",
            *([f"  status       {self.state[0]}: {self.state[1]}"] if self.state else []),
            f"  wall time    {self.wall_s:.3f} s",
            f"  CPU          {self.cpu_phrase()}",
            f"  tokens       {self.token_phrase()}",
            f"  latency      {self.latency_phrase()}",
        ]
        lines += self.request_lines() + self.stage_lines()
        lines += [_field(label, text) for label, text in gpu_lines(self.gpu)]
        lines += [f"  collectors   {self.collectors_phrase()}"]
        lines += [f"  skipped      {name}: {reason}" for name, reason in self.skipped]
        if self.error:
            lines.append(f"  error        the cell raised {self.error}")
        if self.dropped:
            lines.append("  dropped      " + ", ".join(f"{k}: {v}" for k, v in sorted(self.dropped.items())))
        lines += self.top_function_lines()
        if self.findings:
            lines.append(f"  findings ({len(self.findings)}, largest estimated gain first):")
            lines += ["  " + line for line in findings_text(self.findings, limit=TOP_FINDINGS).splitlines()]
        if self.notes.rows:
            lines.append(f"  notes ({len(self.notes.rows)}):")
            lines += [_field("", line) for line in self.notes.text_lines()]
        lines.append(f"  run          {self.run_id} at {self.path}")
        return "\n".join(lines)

    def cpu_phrase(self) -> str:
        if self.cpu is None:
            return "no CPU samples (no CPU collector ran)"
        samples = int(self.cpu.get("samples") or 0)
        if samples == 0:
            return "no CPU samples"
        rate = self.cpu.get("rate_hz")
        return f"{samples:,} CPU samples" + (f" at {rate:g} Hz" if rate else "")

    def token_phrase(self) -> str:
        if not self.tokens or not self.tokens.get("requests"):
            return NO_REQUESTS
        out = f"{self.tokens.get('output_tokens', 0):,} output tokens in {self.tokens['requests']} request(s)"
        rate = self.tokens.get("output_tokens_per_s")
        failed = self.tokens.get("failed_requests") or 0
        return out + (f", {rate:,.1f} tokens/s" if rate else "") + (f", {failed} failed" if failed else "")

    def latency_phrase(self) -> str:
        if not self.tokens or not self.tokens.get("requests"):
            return NO_REQUESTS
        ttft = self.tokens.get("ttft_ms") or {}
        tpot = self.tokens.get("tpot_ms") or {}
        return f"TTFT p50 {_ms(ttft.get('p50'))} p90 {_ms(ttft.get('p90'))}, TPOT p50 {_ms(tpot.get('p50'))}"

    def goodput_phrase(self) -> str | None:
        return goodput_phrase((self.tokens or {}).get("goodput"))

    def requests_phrase(self) -> str:
        tokens = self.tokens or {}
        n = int(tokens.get("requests") or 0)
        failed = int(tokens.get("failed_requests") or 0)
        out = f"{n:,} ({failed:,} failed)"
        models = tokens.get("per_model") or {}
        if len(models) > 1:
            out += f" · {len(models)} models"
        in_flight = (tokens.get("concurrency") or {}).get("max_in_flight")
        return out + (f" · max {in_flight} in flight" if in_flight else "")

    def breakdown_phrase(self) -> str | None:
        summary = (self.tokens or {}).get("breakdown_ms") or {}
        parts = [
            f"{label} {_ms(mean)}"
            for key, label in BREAKDOWN_NAMES.items()
            if (mean := (summary.get(key) or {}).get("mean")) is not None
        ]
        return ("mean " + ", ".join(parts)) if parts else None

    def request_lines(self) -> list[str]:
        if not self.tokens or not self.tokens.get("requests"):
            return []
        lines = [_field("requests", self.requests_phrase())]
        goodput = self.goodput_phrase()
        if goodput:
            lines.append(_field("SLO", goodput))
        breakdown = self.breakdown_phrase()
        if breakdown:
            lines.append(_field("breakdown", breakdown))
        return lines

    def stage_lines(self) -> list[str]:
        if not self.stages.has_stages:
            return []
        path = f"path {self.stages.total_ms:,.1f} ms: {self.stages.per_kind_phrase()}"
        lines = [_field("critical", path)]
        parallel = self.stages.parallel_sentence()
        if parallel:
            lines.append(_field("parallel", parallel))
        return lines

    def collectors_phrase(self) -> str:
        if not self.ran and not self.skipped:
            return "none recorded"
        ran = ", ".join(self.ran) or "none"
        return f"ran: {ran}" + (f"; skipped: {', '.join(n for n, _ in self.skipped)}" if self.skipped else "")

    def top_function_lines(self) -> list[str]:
        top = (self.cpu or {}).get("top_functions") or []
        if not top:
            return []
        lines = [f"  top {min(TOP_N, len(top))} functions by self time (self %, total %):"]
        for i, f in enumerate(top[:TOP_N], start=1):
            where = f"{f.get('file', '')}:{f.get('line', 0)}"
            lines.append(
                f"    {i}. {f.get('self_pct', 0.0):5.1f}%  {f.get('total_pct', 0.0):5.1f}%  "
                f"{f.get('function', '?')}  ({where})"
            )
        return lines


def _field(label: str, value: str) -> str:
    """The line `  label        value`, the value wrapped to WRAP_WIDTH under its own column."""
    head = f"  {label}".ljust(VALUE_COLUMN)
    wrapped = textwrap.wrap(value, WRAP_WIDTH - VALUE_COLUMN) or [""]
    return head + ("\n" + " " * VALUE_COLUMN).join(wrapped)


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f} ms"


def _cpu_metrics(run: Run) -> dict[str, Any] | None:
    metrics = run.metrics.get("cpu")
    if isinstance(metrics, dict):
        return metrics
    samples = run.recording.samples
    if not samples:
        return None
    # Samples without stored metrics (e.g. a run saved before analysis): derive what needs no rate.
    return {"samples": sum(s.count for s in samples), "top_functions": top_functions(run.recording)}


def summary_line(run: Run) -> str:
    return SummaryView.from_run(run).line()


def summary_text(run: Run) -> str:
    return SummaryView.from_run(run).text()
