"""Pipeline shape: LLM calls made one after another that could run at once, and Python stages that hold
up the cell.

Both read the cell's critical path (`analysis.critical_path`): only time on it delays the cell's end, so
only that time counts toward a finding's share and gain.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field

from workbench.analysis.critical_path import NS_PER_MS, CriticalPath, critical_path, parallelizable_llm
from workbench.analysis.findings.model import Evidence, Finding, severity_of
from workbench.analysis.findings.registry import rule
from workbench.analysis.stacks import is_parked
from workbench.model.events import Span, StackSample
from workbench.model.recording import Recording
from workbench.model.run import Run

# A saving under a twentieth of the cell is within what loopback jitter and scheduling move a run by.
MIN_PARALLEL_SHARE = 0.05
# Below this a saving is not worth restructuring code for, however short the cell.
MIN_PARALLEL_MS = 10.0
MAX_POINTERS = 8

# Kinds that are Python work by construction; other kinds count when their CPU samples say so.
PYTHON_KINDS = frozenset({"prompt", "parse", "retrieval", "chain", "tool", "tokenize", "detokenize"})
# Kinds whose time is spent elsewhere (a server, the GPU) or that are the cell itself.
NOT_PYTHON_KINDS = frozenset({"cell", "llm", "embedding", "kernel", "gpu", "memcpy", "repetition", "server"})
# A tenth of the cell's critical path: made 2x faster, such a stage saves a twentieth, the "medium" floor.
MIN_STAGE_SHARE = 0.10
# The speed-up the gain assumes: a realistic first target (caching, vectorising), not a rewrite.
SPEEDUP = 2.0
# An unlisted kind is a Python stage when its sampled thread was busy (not parked) at least this often.
MIN_BUSY_SHARE = 0.5
MAX_STAGES = 3
HOT_FUNCTIONS = 3


@rule("sequential_llm", "independent LLM requests made one after another on the critical path")
def sequential_llm(run: Run, baseline: Run | None = None) -> list[Finding]:
    rec = run.recording
    estimate = parallelizable_llm(rec, critical_path(rec))
    groups = [g for g in estimate["groups"] if g["saving_ms"] > 0]
    saving = sum(g["saving_ms"] for g in groups)
    cell_ms = run.wall_s * 1000
    if not groups or saving < MIN_PARALLEL_MS or saving < MIN_PARALLEL_SHARE * cell_ms:
        return []
    spans = {s.span_id: s for s in rec.spans}
    requests = [spans[i] for g in groups for i in g["span_ids"]]
    return [
        Finding(
            kind="sequential_llm",
            severity=severity_of(saving, cell_ms),
            title=f"{len(requests)} LLM requests ran one after another with no data dependency between them",
            evidence={
                "groups": len(groups),
                "requests": len(requests),
                "sequential_ms": sum(g["sequential_ms"] for g in groups),
                "concurrent_ms": sum(g["concurrent_ms"] for g in groups),
                "saving_ms": saving,
                "cell_ms": cell_ms,
            },
            pointers=[_span_pointer("request", s) for s in requests[:MAX_POINTERS]],
            suggestion="issue the independent requests at once: asyncio.gather over the async client, a "
            "ThreadPoolExecutor over the sync one, or one batched request where the API takes several "
            "prompts",
            gain_ms=saving,
            assumption=str(estimate["assumption"]),
        )
    ]


@dataclass
class _Stage:
    """One stage (spans sharing a name and kind) and its time on the critical path, with its samples."""

    name: str
    kind: str
    spans: list[Span] = field(default_factory=list)
    critical_ns: int = 0
    sampled_ns: int = 0
    busy_ns: int = 0
    self_ns: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@rule("python_stage", "a Python stage (prompt, parse, retrieval, tool...) takes a large share of the cell")
def python_stage(run: Run, baseline: Run | None = None) -> list[Finding]:
    rec = run.recording
    path = critical_path(rec)
    if path.total_ns <= 0:
        return []
    stages = _stages(rec, path)
    has_samples = bool(rec.samples)
    cell_ms = run.wall_s * 1000
    found = []
    for stage in stages:
        if stage.kind not in PYTHON_KINDS and not (
            stage.sampled_ns and stage.busy_ns >= MIN_BUSY_SHARE * stage.sampled_ns
        ):
            continue
        share = stage.critical_ns / path.total_ns
        if share < MIN_STAGE_SHARE:
            continue
        found.append(_stage_finding(stage, share, has_samples, cell_ms))
    found.sort(key=lambda f: -f.gain_ms)
    return found[:MAX_STAGES]


def _stages(rec: Recording, path: CriticalPath) -> list[_Stage]:
    spans = {s.span_id: s for s in rec.spans}
    samples = _samples_by_thread(rec)
    stages: dict[tuple[str, str], _Stage] = {}
    seen: set[int] = set()
    for segment in path.segments:
        span = spans.get(segment.span_id)
        if span is None or span.kind in NOT_PYTHON_KINDS:
            continue
        stage = stages.setdefault((span.name, span.kind), _Stage(span.name, span.kind))
        if span.span_id not in seen:
            seen.add(span.span_id)
            stage.spans.append(span)
        stage.critical_ns += segment.duration_ns
        _add_samples(rec, stage, samples.get(span.thread_id), segment.start_ns, segment.end_ns)
    return list(stages.values())


def _samples_by_thread(rec: Recording) -> dict[int, tuple[list[int], list[StackSample]]]:
    """Each thread's samples in time order, with their start times beside them for bisection."""
    by_thread: dict[int, list[StackSample]] = defaultdict(list)
    for sample in rec.samples:
        by_thread[sample.thread_id].append(sample)
    out = {}
    for thread, samples in by_thread.items():
        samples.sort(key=lambda s: s.t_ns)
        out[thread] = ([s.t_ns for s in samples], samples)
    return out


def _add_samples(
    rec: Recording,
    stage: _Stage,
    thread_samples: tuple[list[int], list[StackSample]] | None,
    start_ns: int,
    end_ns: int,
) -> None:
    """The samples of the stage's thread inside [start, end), each weighted by its overlap with it."""
    if thread_samples is None:
        return
    starts, samples = thread_samples
    # A thread's samples are consecutive states: the one in progress at `start_ns` began just before it.
    # Indexing, not slicing: a slice would copy the rest of the thread's samples for each of 200,000 spans.
    for index in range(max(bisect_right(starts, start_ns) - 1, 0), len(samples)):
        sample = samples[index]
        if sample.t_ns >= end_ns:
            break
        overlap = min(end_ns, sample.t_ns + sample.duration_ns) - max(start_ns, sample.t_ns)
        if overlap <= 0:
            continue
        stage.sampled_ns += overlap
        frames = rec.stack_frames(sample.stack_id)
        # A stack parked in a stdlib wait is the stage waiting, not computing: speeding it up gains nothing.
        if frames and not is_parked(frames):
            stage.busy_ns += overlap
            stage.self_ns[frames[-1].function] += overlap


def _stage_finding(stage: _Stage, share: float, has_samples: bool, cell_ms: float) -> Finding:
    critical_ms = stage.critical_ns / NS_PER_MS
    hot = sorted(stage.self_ns.items(), key=lambda item: -item[1])[:HOT_FUNCTIONS]
    if has_samples and stage.sampled_ns:
        # Samples cover the stage: only its busy share is work that a faster implementation shortens.
        work_ms = critical_ms * stage.busy_ns / stage.sampled_ns
        assumption = (
            f"the stage's sampled busy time ({work_ms:.0f} ms of {critical_ms:.0f} ms on the critical path) "
            f"made {SPEEDUP:g}x faster; its waits stay as they are"
        )
    else:
        work_ms = critical_ms
        assumption = (
            f"all of the stage's {critical_ms:.0f} ms on the critical path is Python work (no CPU samples "
            f"to check), made {SPEEDUP:g}x faster"
        )
    gain = work_ms * (1 - 1 / SPEEDUP)
    hot_names = ", ".join(name for name, _ in hot)
    return Finding(
        kind="python_stage",
        severity=severity_of(gain, cell_ms),
        title=f"{stage.kind} stage {stage.name!r} is {share:.0%} of the cell's critical path"
        + (f" (hottest: {hot_names})" if hot_names else ""),
        evidence={
            "stage": stage.name,
            "stage_kind": stage.kind,
            "spans": len(stage.spans),
            "critical_ms": critical_ms,
            "critical_share": share,
            "sampled_ms": stage.sampled_ns / NS_PER_MS,
            "busy_ms": stage.busy_ns / NS_PER_MS,
            "hot_functions": [{"function": name, "self_ms": ns / NS_PER_MS} for name, ns in hot],
        },
        pointers=[_span_pointer("span", s) for s in stage.spans[:MAX_POINTERS]]
        + [_frame_pointer(stage, name, ns) for name, ns in hot],
        suggestion="profile the hot functions above and cut their work: cache what repeats across calls "
        "(templates, tokenised prefixes, embeddings), vectorise scoring loops, parse incrementally, or move "
        "the stage off the critical path by overlapping it with the LLM calls",
        gain_ms=gain,
        assumption=assumption,
    )


def _span_pointer(kind: str, span: Span) -> Evidence:
    end = span.end_ns if span.end_ns is not None else span.start_ns
    return Evidence(kind, span.name, span.start_ns / NS_PER_MS, end / NS_PER_MS, span.span_id)


def _frame_pointer(stage: _Stage, function: str, self_ns: int) -> Evidence:
    first = stage.spans[0]
    last_end = max(s.end_ns or s.start_ns for s in stage.spans)
    label = f"{function}: {self_ns / NS_PER_MS:.0f} ms self time in {stage.name}"
    return Evidence("frame", label, first.start_ns / NS_PER_MS, last_end / NS_PER_MS, function)
