"""(De)serialisation of a `Run` to two JSON documents: metadata (run.json) and events (events.json.gz).

Both carry the schema version; `RunFormatError` names the problem when a document does not fit.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from workbench.model.attached import AttachedProcess
from workbench.model.events import Annotation, CollectorStatus, Counter, Frame, Span, StackSample, TokenEvent
from workbench.model.recording import Recording
from workbench.model.run import RUN_STATUSES, SCHEMA_VERSION, Run


class RunFormatError(ValueError):
    """A run document is missing a field, has a wrong type, or comes from an unknown schema version."""


def run_to_meta(run: Run) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "id": run.id,
        "name": run.name,
        "created": run.created,
        "duration_ns": run.duration_ns,
        "origin_wall_s": run.origin_wall_s,
        "cell_source": run.cell_source,
        "environment": run.environment,
        "options": run.options,
        "collectors": [asdict(c) for c in run.collectors],
        "metrics": run.metrics,
        "annotations": [asdict(a) for a in run.annotations],
        "error": run.error,
        "parent": run.parent,
        "status": run.status,
        "status_detail": run.status_detail,
        "recorder": run.recorder,
    }


def recording_to_events(recording: Recording) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "spans": [
            [s.span_id, s.name, s.kind, s.start_ns, s.end_ns, s.parent_id, s.thread_id, s.attrs]
            for s in recording.spans
        ],
        "tokens": [[t.request_id, t.t_ns, t.n_tokens, t.text] for t in recording.tokens],
        "counters": [[c.series, c.t_ns, c.value] for c in recording.counters],
        "frames": [[f.function, f.file, f.line] for f in recording.frames],
        "stacks": [list(stack) for stack in recording.stacks],
        "samples": [[s.t_ns, s.thread_id, s.stack_id, s.duration_ns, s.count] for s in recording.samples],
        "threads": {str(k): v for k, v in recording.threads.items()},
        "dropped": recording.dropped,
        "attached": [
            {"pid": a.pid, "label": a.label, "rate_hz": a.rate_hz, "events": recording_to_events(a.recording)}
            for a in recording.attached
        ],
    }


def _check_version(doc: Any, what: str) -> None:
    if not isinstance(doc, dict):
        raise RunFormatError(f"{what}: expected a JSON object, found {type(doc).__name__}")
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise RunFormatError(
            f"{what}: schema_version {version!r} is not supported (expected {SCHEMA_VERSION})"
        )


def events_to_recording(doc: dict[str, Any]) -> Recording:
    _check_version(doc, "events")
    try:
        return Recording(
            spans=[Span(i, n, k, s, e, p, t, dict(a)) for i, n, k, s, e, p, t, a in doc["spans"]],
            tokens=[TokenEvent(r, t, n, x) for r, t, n, x in doc["tokens"]],
            counters=[Counter(s, t, float(v)) for s, t, v in doc["counters"]],
            frames=[Frame(f, p, int(n)) for f, p, n in doc["frames"]],
            stacks=[tuple(stack) for stack in doc["stacks"]],
            samples=[StackSample(t, th, st, d, c) for t, th, st, d, c in doc["samples"]],
            threads={int(k): str(v) for k, v in doc["threads"].items()},
            dropped=dict(doc.get("dropped", {})),
            attached=[_attached(a) for a in doc.get("attached") or []],
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise RunFormatError(f"events: malformed ({type(error).__name__}: {error})") from error


def _attached(doc: dict[str, Any]) -> AttachedProcess:
    rate = doc.get("rate_hz")
    return AttachedProcess(
        int(doc["pid"]),
        str(doc["label"]),
        events_to_recording(doc["events"]),
        None if rate is None else float(rate),
    )


def meta_to_run(meta: dict[str, Any], recording: Recording) -> Run:
    if not isinstance(meta, dict):
        raise RunFormatError("run.json: expected a JSON object")
    _check_version(meta, "run.json")
    try:
        return Run(
            id=str(meta["id"]),
            name=str(meta["name"]),
            created=str(meta["created"]),
            duration_ns=int(meta["duration_ns"]),
            origin_wall_s=float(meta["origin_wall_s"]),
            cell_source=str(meta.get("cell_source", "")),
            environment=dict(meta.get("environment", {})),
            options=dict(meta.get("options", {})),
            collectors=[CollectorStatus(**c) for c in meta.get("collectors", [])],
            recording=recording,
            metrics=dict(meta.get("metrics", {})),
            annotations=[Annotation(**a) for a in meta.get("annotations", [])],
            error=meta.get("error"),
            parent=meta.get("parent"),
            status=_status(meta.get("status", "complete")),
            status_detail=None if meta.get("status_detail") is None else str(meta["status_detail"]),
            recorder=dict(meta["recorder"]) if isinstance(meta.get("recorder"), dict) else None,
        )
    except KeyError as error:
        raise RunFormatError(f"run.json: missing field {error.args[0]!r}") from error
    except (TypeError, ValueError) as error:
        raise RunFormatError(f"run.json: malformed ({error})") from error


def _status(value: Any) -> str:
    if value not in RUN_STATUSES:
        raise RunFormatError(f"run.json: unknown status {value!r} (one of {', '.join(RUN_STATUSES)})")
    return str(value)
