"""Decoding of a torch.profiler (Kineto) Chrome-trace JSON file, plain or gzipped, into numpy columns.

A million-event trace is ~350 MB of JSON. `json.load` needs ~9 s and ~1.7 GB for it because it builds a
dict per event with every key; a typed msgspec decoder that knows only the fields we use skips the rest
in C. The events array is first split into raw slices (cheap) and then decoded in batches, so only one
batch of event objects is alive at a time and memory stays near the size of the text itself.
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
import pandas as pd

from workbench.model.ops import CATEGORY_CODE, NO_CORRELATION, NO_DETAIL

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]

_BATCH = 65_536  # events decoded at once: ~15 MB of objects, and few enough calls to keep overhead small
_OTHER = CATEGORY_CODE["other"]
_SKIPPED_CAT = 255  # Kineto's own "Trace" span: the profiler's window, not work
_KERNEL = CATEGORY_CODE["kernel"]
_COPIES = (CATEGORY_CODE["gpu_memcpy"], CATEGORY_CODE["gpu_memset"])
_SHAPED = (CATEGORY_CODE["cpu_op"], CATEGORY_CODE["user_annotation"])
_CATEGORY = {**CATEGORY_CODE, "Trace": _SKIPPED_CAT}
_GZIP_MAGIC = b"\x1f\x8b"


class KinetoFormatError(ValueError):
    """A file that is not a Kineto trace; the message names the file and what is wrong."""


class _Args(msgspec.Struct, gc=False):
    # Absent fields keep sentinel defaults rather than None, so columns build without per-event branches.
    device: int = -1
    stream: int = -1
    correlation: int = NO_CORRELATION
    grid: tuple[int, ...] = ()
    block: tuple[int, ...] = ()
    registers: int = msgspec.field(default=-1, name="registers per thread")
    shared_memory: int = msgspec.field(default=-1, name="shared memory")
    bytes: int = -1
    bandwidth: float = msgspec.field(default=-1.0, name="memory bandwidth (GB/s)")
    # Raw JSON: decoded and formatted once per distinct value, not once per event.
    input_dims: msgspec.Raw = msgspec.field(default=msgspec.Raw(b""), name="Input Dims")
    name: Any = None  # the thread or process name of an "M" event


_NO_ARGS = _Args()


class _Event(msgspec.Struct, gc=False):
    ph: str = ""
    cat: str = ""
    name: str = ""
    pid: int | str = 0
    tid: int | str = 0
    ts: float = 0.0
    dur: float = 0.0
    args: _Args | None = None


_EVENTS = msgspec.json.Decoder(list[_Event])
_SLICES = msgspec.json.Decoder(list[msgspec.Raw])
_TOP = msgspec.json.Decoder(dict[str, msgspec.Raw])


@dataclass
class KinetoTrace:
    """The complete ("X") events of one trace in columns, one row per event in file order."""

    source: str
    # Microseconds as written in the file. torch 2.x writes them relative to `baseTimeNanoseconds`, and
    # an absolute float64 would round them to 0.25 µs, so the epoch is kept apart (0 for older traces).
    ts_rel_us: F64
    epoch_ns: int
    dur_us: F64
    category: npt.NDArray[np.uint8]  # codes of `workbench.model.ops.CATEGORIES`
    name_id: I32
    names: list[str]
    pid: I64
    tid: I64
    device: I64  # args.device, -1 when absent
    stream: I64  # args.stream, -1 when absent
    correlation: I64
    detail_id: I32
    details: list[str]
    thread_names: dict[tuple[int, int], str] = field(default_factory=dict)
    process_names: dict[int, str] = field(default_factory=dict)
    device_properties: list[dict[str, Any]] = field(default_factory=list)
    base_time_ns: int | None = None
    # Trace-level keys other than the events and device properties (distributedInfo, schemaVersion, ...).
    metadata: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.ts_rel_us.size)

    @property
    def ts_us(self) -> F64:
        """Absolute start times in Unix-epoch microseconds (rounded to float64, ~0.25 µs today)."""
        return self.ts_rel_us + self.epoch_ns / 1000

    @property
    def start_ns(self) -> int:
        """The earliest event start, in exact absolute nanoseconds."""
        return self.epoch_ns + (exact_ns(self.ts_rel_us.min()) if len(self) else 0)

    @property
    def end_ns(self) -> int:
        """The latest event end, in exact absolute nanoseconds."""
        return self.epoch_ns + (exact_ns((self.ts_rel_us + self.dur_us).max()) if len(self) else 0)

    @property
    def start_us(self) -> float:
        return self.start_ns / 1000

    @property
    def end_us(self) -> float:
        return self.end_ns / 1000


def exact_ns(ts_us: np.floating[Any] | float) -> int:
    # Fraction keeps the float's exact value: `ts_us * 1000` in float64 would round to 256 ns near 1.8e18.
    return round(Fraction(float(ts_us)) * 1000)


def read_kineto(path: str | Path) -> KinetoTrace:
    """A trace from a `.json` or gzipped file (told apart by the gzip magic bytes, not the suffix)."""
    return read_kineto_bytes(Path(path).read_bytes(), str(path))


def read_kineto_bytes(data: bytes, source: str) -> KinetoTrace:
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise KinetoFormatError(f"{source}: damaged gzip data ({error})") from error
    try:
        top = _TOP.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise KinetoFormatError(f"{source}: not valid JSON, or not an object ({error})") from error
    del data  # the raw slices below keep only what they need alive
    events = top.pop("traceEvents", None)
    if events is None:
        raise KinetoFormatError(f"{source}: no traceEvents (not a torch.profiler / Kineto trace)")
    metadata = {key: _decode_json(raw, source, key) for key, raw in top.items()}
    try:
        return _columns(_SLICES.decode(events), metadata, source)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise KinetoFormatError(f"{source}: unexpected event ({error})") from error


def _decode_json(raw: msgspec.Raw, source: str, key: str) -> Any:
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as error:
        raise KinetoFormatError(f"{source}: malformed {key!r} ({error})") from error


class _Builder:
    """Column chunks and interning tables, filled one batch of events at a time."""

    def __init__(self) -> None:
        self.chunks: dict[str, list[npt.NDArray[Any]]] = {}
        self.names: dict[str, int] = {}
        self.detail_keys: dict[tuple[Any, ...], int] = {}
        self.thread_names: dict[tuple[int, int], str] = {}
        self.process_names: dict[int, str] = {}
        self.string_ids: dict[str, int] = {}

    def add(self, column: str, values: npt.NDArray[Any]) -> None:
        self.chunks.setdefault(column, []).append(values)

    def column(self, name: str, dtype: type[np.generic]) -> npt.NDArray[Any]:
        parts = self.chunks.get(name)
        return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)

    def batch(self, events: list[_Event]) -> None:
        xs = [e for e in events if e.ph == "X"]
        for e in events:
            if e.ph == "M" and e.args is not None and isinstance(e.args.name, str):
                if e.name == "thread_name":
                    self.thread_names[(self.ident(e.pid), self.ident(e.tid))] = e.args.name
                elif e.name == "process_name":
                    self.process_names[self.ident(e.pid)] = e.args.name
        category = np.array([_CATEGORY.get(e.cat, _OTHER) for e in xs], np.uint8)
        keep = category != _SKIPPED_CAT
        if not keep.all():
            xs = [e for e, k in zip(xs, keep.tolist(), strict=True) if k]
            category = category[keep]
        args = [e.args or _NO_ARGS for e in xs]
        self.add("category", category)
        self.add("ts", np.array([e.ts for e in xs], np.float64))
        self.add("dur", np.array([e.dur for e in xs], np.float64))
        self.add("pid", self.idents([e.pid for e in xs]))
        self.add("tid", self.idents([e.tid for e in xs]))
        self.add("device", np.array([a.device for a in args], np.int64))
        self.add("stream", np.array([a.stream for a in args], np.int64))
        self.add("correlation", np.array([a.correlation for a in args], np.int64))
        self.add("name", self.intern_names([e.name for e in xs]))
        self.add("detail", self.detail_ids(category, args))

    def intern_names(self, names: list[str]) -> I32:
        codes, uniques = pd.factorize(np.array(names, dtype=object))
        table = self.names
        global_ids = np.array([table.setdefault(n, len(table)) for n in uniques], np.int32)
        return global_ids[codes] if codes.size else np.zeros(0, np.int32)

    def detail_ids(self, category: npt.NDArray[np.uint8], args: list[_Args]) -> I32:
        ids = np.full(len(args), NO_DETAIL, np.int32)
        keys = self.detail_keys
        key: tuple[Any, ...]
        for row in np.flatnonzero(category == _KERNEL).tolist():
            a = args[row]
            if a.grid:
                key = ("kernel", a.grid, a.block, a.registers, a.shared_memory)
                ids[row] = keys.setdefault(key, len(keys))
        for row in np.flatnonzero(np.isin(category, _COPIES)).tolist():
            a = args[row]
            if a.bytes >= 0:
                key = ("copy", a.bytes, f"{a.bandwidth:.4g}" if a.bandwidth >= 0 else "")
                ids[row] = keys.setdefault(key, len(keys))
        for row in np.flatnonzero(np.isin(category, _SHAPED)).tolist():
            dims = args[row].input_dims
            if len(dims):
                ids[row] = keys.setdefault(("shapes", bytes(dims)), len(keys))
        return ids

    def idents(self, values: list[int | str]) -> I64:
        try:
            return np.array(values, np.int64)
        except (TypeError, ValueError):  # a string pid or tid somewhere: map them one by one
            return np.array([self.ident(v) for v in values], np.int64)

    def ident(self, value: int | str) -> int:
        """An int for a pid or tid: itself, the number ending a string ("stream 7"), or a new negative id."""
        if isinstance(value, int):
            return value
        digits = value.rsplit(" ", 1)[-1]
        if digits.lstrip("-").isdigit():
            return int(digits)
        return self.string_ids.setdefault(value, -2 - len(self.string_ids))


def _columns(slices: list[msgspec.Raw], metadata: dict[str, Any], source: str) -> KinetoTrace:
    builder = _Builder()
    for start in range(0, len(slices), _BATCH):
        batch = slices[start : start + _BATCH]
        builder.batch(_EVENTS.decode(b"[" + b",".join(batch) + b"]"))
    del slices
    base = metadata.get("baseTimeNanoseconds")
    properties = metadata.pop("deviceProperties", None)
    details = [_detail_text(key) for key in builder.detail_keys]
    detail_id = builder.column("detail", np.int32)
    # Shapes that say nothing (no inputs, or only scalars) are no detail at all.
    empty = np.array([text == "" for text in details] + [True], bool)
    detail_id[empty[detail_id]] = NO_DETAIL
    return KinetoTrace(
        source=source,
        ts_rel_us=builder.column("ts", np.float64),
        epoch_ns=int(base) if isinstance(base, int) else 0,
        dur_us=builder.column("dur", np.float64),
        category=builder.column("category", np.uint8),
        name_id=builder.column("name", np.int32),
        names=list(builder.names),
        pid=builder.column("pid", np.int64),
        tid=builder.column("tid", np.int64),
        device=builder.column("device", np.int64),
        stream=builder.column("stream", np.int64),
        correlation=builder.column("correlation", np.int64),
        detail_id=detail_id,
        details=details,
        thread_names=builder.thread_names,
        process_names=builder.process_names,
        device_properties=[p for p in properties if isinstance(p, dict)]
        if isinstance(properties, list)
        else [],
        base_time_ns=int(base) if isinstance(base, int) else None,
        metadata=metadata,
    )


def _detail_text(key: tuple[Any, ...]) -> str:
    kind = key[0]
    if kind == "kernel":
        _, grid, block, registers, shared = key
        text = f"grid {list(grid)} · block {list(block)}"
        text += f" · {registers} regs" if registers >= 0 else ""
        return text + (f" · {shared} B smem" if shared >= 0 else "")
    if kind == "copy":
        _, size, bandwidth = key
        return f"{size} bytes" + (f" · {bandwidth} GB/s" if bandwidth else "")
    try:
        dims = msgspec.json.decode(key[1])
    except msgspec.DecodeError:
        return ""
    if not isinstance(dims, list) or not any(d != [] for d in dims):
        return ""
    return f"shapes {json.dumps(dims)}"
