"""Decoding of a torch.profiler (Kineto) Chrome-trace JSON file, plain or gzipped, into numpy columns.

A million-event trace is ~430 MB of JSON. `json.load` needs ~9 s and ~1.7 GB for it because it builds a
dict per event with every key; a typed msgspec decoder that knows only the fields we use skips the rest
in C, and with the phase as a tag it skips every field of the flow and instant events too. The text is
read as a stream (`kineto_stream`): inflated a step at a time by a second thread, cut into batches of a
few MB between two events, each decoded and turned into column chunks before the next, so only one batch
of text and of event objects is alive at a time (~350 MB at peak for a million events, mostly the
columns). A text that cannot be cut so, or that is malformed, is read again whole by the general reader,
which names the problem. The text's size is capped (`trace_input`): a gzip bomb stops at the cap.

Kineto's dialects are read alike: the older category names ("Kernel", "Runtime", ...) in any case, and
streams, devices and threads written as strings ("0x0" on ROCm, "stream 7").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Union

import msgspec
import numpy as np
import numpy.typing as npt
import pandas as pd

from workbench.importers.kineto_stream import (
    STEP,
    NotSplittable,
    events_in_batches,
    prefetched,
    text_pieces,
)
from workbench.importers.trace_input import TraceInputError, in_steps, max_trace_bytes, trace_text
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
# Other spellings, matched without case as HTA and the TensorBoard plugin do: the older Kineto names, and the
# runtime and driver calls of other devices (Kineto's ActivityType names), which launch work as CUDA's do.
_ALIASES = {
    **{name.lower(): code for name, code in _CATEGORY.items()},
    "operator": CATEGORY_CODE["cpu_op"],
    "runtime": CATEGORY_CODE["cuda_runtime"],
    "driver": CATEGORY_CODE["cuda_driver"],
    "memcpy": CATEGORY_CODE["gpu_memcpy"],
    "memset": CATEGORY_CODE["gpu_memset"],
    "python": CATEGORY_CODE["python_function"],
    "mtia_runtime": CATEGORY_CODE["cuda_runtime"],
    "xpu_runtime": CATEGORY_CODE["cuda_runtime"],
    "privateuse1_runtime": CATEGORY_CODE["cuda_runtime"],
    "privateuse1_driver": CATEGORY_CODE["cuda_driver"],
}
_INT64 = range(-(1 << 63), 1 << 63)
# Absolute times within ±2^62 ns (1824 to 2116) and durations within 2^61 ns keep every start, end and
# difference the conversion makes inside int64 nanoseconds.
_MAX_TIME_US = float(1 << 62) / 1000
_MAX_DURATION_US = float(1 << 61) / 1000
# What msgspec raises on a malformed document; RecursionError on nesting deeper than the interpreter's limit.
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)


class KinetoFormatError(ValueError):
    """A file that is not a Kineto trace; the message names the file and what is wrong."""


class _Args(msgspec.Struct, gc=False):
    # Absent fields keep sentinel defaults rather than None, so columns build without per-event branches.
    device: int | str = -1  # ROCm writes strings ("0x0"); `_number` reads them
    stream: int | str = -1
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


class _Complete(msgspec.Struct, tag_field="ph", tag="X", gc=False):
    """An "X" event, as `_Event`; with its phase as the tag, the other phases' fields are skipped unread."""

    cat: str = ""
    name: str = ""
    pid: int | str = 0
    tid: int | str = 0
    ts: float = 0.0
    dur: float = 0.0
    args: _Args | None = None


class _Metadata(msgspec.Struct, tag_field="ph", tag="M", gc=False):
    name: str = ""
    pid: int | str = 0
    tid: int | str = 0
    args: _Args | None = None


# The Chrome trace format's other phases (flows, instants, counters, async, objects...): nothing read.
_SKIPPED_PHASES = tuple(
    msgspec.defstruct(f"_Phase{code}", [], tag_field="ph", tag=phase, gc=False)
    for code, phase in enumerate("BEbenstfiICPOND()Rc")
)
_PHASED = msgspec.json.Decoder(list[_Complete | _Metadata | Union[_SKIPPED_PHASES]])  # type: ignore[valid-type]  # noqa: UP007
_EVENTS = msgspec.json.Decoder(list[_Event])  # any phase, or none: what `_PHASED` refuses
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


def read_kineto(path: str | Path, *, max_bytes: int | None = None) -> KinetoTrace:
    """A trace from a `.json` or gzipped file (told apart by the gzip magic bytes, not the suffix).

    `max_bytes` caps the size of the JSON text, decompressed (default `trace_input.MAX_TRACE_BYTES`, or
    $WORKBENCH_MAX_TRACE_BYTES); past it reading stops with a `KinetoFormatError` that says so.
    """
    file = Path(path)

    def chunks() -> Iterator[bytes]:
        with file.open("rb") as opened:
            yield from iter(lambda: opened.read(STEP), b"")

    return _read(chunks, max_bytes, str(path))


def read_kineto_bytes(
    data: bytes | bytearray | memoryview, source: str, *, max_bytes: int | None = None
) -> KinetoTrace:
    """Like `read_kineto`, from the file's bytes (plain or gzipped) already in memory."""
    return _read(lambda: in_steps(data), max_bytes, source)


def _read(
    chunks: Callable[[], Iterator[bytes | memoryview]], max_bytes: int | None, source: str
) -> KinetoTrace:
    """The trace in `chunks()` (the file's bytes), read as a stream of batches; a text whose events cannot be
    cut that way (or that is malformed: the general reader names the problem) is read again whole."""
    try:
        limit = max_trace_bytes(max_bytes)
        builder = _Builder()
        try:
            top = _decode_streamed(prefetched(lambda: text_pieces(chunks(), limit)), builder)
        except (*_DECODE_ERRORS, NotSplittable):
            builder = _Builder()
            top = _decode_in_slices(trace_text(chunks(), limit), builder, source)
    except TraceInputError as error:
        raise KinetoFormatError(f"{source}: {error}") from error
    metadata = {key: _decode_json(raw, source, key) for key, raw in top.items()}
    return _columns(builder, metadata, source)


def _decode_streamed(pieces: Iterator[bytes], builder: _Builder) -> dict[str, msgspec.Raw]:
    """The top-level keys' raw values; the events go to `builder` a batch at a time."""
    top: dict[str, msgspec.Raw] = {}
    try:
        for kind, text in events_in_batches(pieces):
            if kind == "events":
                builder.batch(text)
                continue
            part = _TOP.decode(text)
            events = part.pop("traceEvents")
            if kind == "rest":
                builder.batch(events)
            top.update(part)
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
    return top


def _decode_in_slices(text: bytearray, builder: _Builder, source: str) -> dict[str, msgspec.Raw]:
    """The general reader: the whole document parsed, the events array split into one raw slice per event."""
    try:
        top = _TOP.decode(text)
        del text  # the raw slices below keep only what they need alive
    except _DECODE_ERRORS as error:
        raise KinetoFormatError(f"{source}: not valid JSON, or not an object ({error})") from error
    events = top.pop("traceEvents", None)
    if events is None:
        raise KinetoFormatError(f"{source}: no traceEvents (not a torch.profiler / Kineto trace)")
    try:
        slices = _SLICES.decode(events)
        for start in range(0, len(slices), _BATCH):
            builder.batch(b"[" + b",".join(slices[start : start + _BATCH]) + b"]")
    except _DECODE_ERRORS as error:
        raise KinetoFormatError(f"{source}: unexpected event ({error})") from error
    return top


def _decode_json(raw: msgspec.Raw, source: str, key: str) -> Any:
    try:
        return msgspec.json.decode(raw)
    except _DECODE_ERRORS as error:
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
        self.category_codes: dict[str, int] = dict(_CATEGORY)  # grows by the other spellings met

    def add(self, column: str, values: npt.NDArray[Any]) -> None:
        self.chunks.setdefault(column, []).append(values)

    def column(self, name: str, dtype: type[np.generic]) -> npt.NDArray[Any]:
        parts = self.chunks.get(name)
        return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)

    def batch(self, text: bytes | memoryview) -> None:
        """Adds the events of `text`, a JSON array of them."""
        try:
            events: list[Any] = _PHASED.decode(text)
            xs: list[Any] = [e for e in events if type(e) is _Complete]
            self.metadata_events([e for e in events if type(e) is _Metadata])
        except msgspec.ValidationError:  # a phase missing, or not one of the format's
            events = _EVENTS.decode(text)
            xs = [e for e in events if e.ph == "X"]
            self.metadata_events([e for e in events if e.ph == "M"])
        del events
        self.complete_events(xs)

    def complete_events(self, xs: list[Any]) -> None:
        """Adds the columns of the "X" events (`_Complete` or `_Event`), but for Kineto's own window span."""
        codes = self.category_codes
        cats = [e.cat for e in xs]
        try:
            category = np.fromiter(map(codes.__getitem__, cats), np.uint8, len(cats))
        except KeyError:  # another spelling ("Kernel", "Runtime"): looked up once, then remembered
            category = np.array([codes[c] if c in codes else self.code(c) for c in cats], np.uint8)
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
        self.add("device", self.numbers([a.device for a in args]))
        self.add("stream", self.numbers([a.stream for a in args]))
        self.add("correlation", self.numbers([a.correlation for a in args], NO_CORRELATION))
        self.add("name", self.intern_names([e.name for e in xs]))
        self.add("detail", self.detail_ids(category, args))

    def metadata_events(self, events: list[_Metadata] | list[_Event]) -> None:
        for e in events:
            if e.args is not None and isinstance(e.args.name, str):
                if e.name == "thread_name":
                    self.thread_names[(self.ident(e.pid), self.ident(e.tid))] = e.args.name
                elif e.name == "process_name":
                    self.process_names[self.ident(e.pid)] = e.args.name

    def intern_names(self, names: list[str]) -> I32:
        if not names:
            return np.zeros(0, np.int32)
        codes, uniques = pd.factorize(np.array(names, dtype=object))
        table = self.names
        global_ids = np.array([table.setdefault(n, len(table)) for n in uniques], np.int32)
        return global_ids[codes]

    def detail_ids(self, category: npt.NDArray[np.uint8], args: list[_Args]) -> I32:
        """Ids of each row's detail key (launch shape, copy size, input shapes), -1 for none; the texts
        are made once per key at the end, and keys that read alike merged there."""
        ids = np.full(len(args), NO_DETAIL, np.int32)
        keys = self.detail_keys
        rows = np.flatnonzero(category == _KERNEL)
        ids[rows] = [
            keys.setdefault(("kernel", a.grid, a.block, a.registers, a.shared_memory), len(keys))
            if a.grid
            else NO_DETAIL
            for a in map(args.__getitem__, rows.tolist())
        ]
        rows = np.flatnonzero(np.isin(category, _COPIES))
        ids[rows] = [
            keys.setdefault(("copy", a.bytes, a.bandwidth), len(keys)) if a.bytes >= 0 else NO_DETAIL
            for a in map(args.__getitem__, rows.tolist())
        ]
        rows = np.flatnonzero(np.isin(category, _SHAPED))
        ids[rows] = [
            keys.setdefault(("shapes", bytes(dims)), len(keys)) if len(dims) else NO_DETAIL
            for dims in (args[row].input_dims for row in rows.tolist())
        ]
        return ids

    def code(self, category: str) -> int:
        """The code of a category spelled another way ("Kernel", "Runtime"), remembered for the next event."""
        code = _ALIASES.get(category.lower(), _OTHER)
        self.category_codes[category] = code
        return code

    def idents(self, values: list[int | str]) -> I64:
        try:
            return np.array(values, np.int64)
        except (TypeError, ValueError, OverflowError):  # strings, or ints past int64: one by one
            return np.array([self.ident(v) for v in values], np.int64)

    def ident(self, value: int | str) -> int:
        """An int for a pid or tid: the number it is or spells ("0x1f", "stream 7"), or a new negative id."""
        number = _number(value)
        if number is not None:
            return number
        return self.string_ids.setdefault(str(value), -2 - len(self.string_ids))

    @staticmethod
    def numbers(values: list[int | str], missing: int = -1) -> I64:
        """A device, stream or correlation per event: the number it is or spells ("0x0" from ROCm), else
        `missing` (-1: absent)."""
        try:
            return np.array(values, np.int64)
        except (TypeError, ValueError, OverflowError):
            return np.array([missing if (n := _number(v)) is None else n for v in values], np.int64)


def _number(value: int | str) -> int | None:
    """The int a value is, or a string spells in decimal or hex, alone or last ("stream 0x1a"); None if it
    spells none, or one outside int64 (the numpy columns' type)."""
    if isinstance(value, str):
        words = value.split()
        if not words:
            return None
        word = words[-1]
        try:
            value = int(word, 16) if word.lower().lstrip("+-").startswith("0x") else int(word)
        except ValueError:
            return None
    return value if value in _INT64 else None


def _columns(builder: _Builder, metadata: dict[str, Any], source: str) -> KinetoTrace:
    base = metadata.get("baseTimeNanoseconds")
    if not isinstance(base, int) or isinstance(base, bool):
        base = None  # a torch 1.x trace: its times are absolute already
    elif not 0 <= base <= 1 << 62:
        raise KinetoFormatError(f"{source}: baseTimeNanoseconds {base} is out of range")
    ts, dur = builder.column("ts", np.float64), builder.column("dur", np.float64)
    _check_times(ts, dur, base or 0, source)
    properties = metadata.pop("deviceProperties", None)
    details, detail_id = _details(builder.detail_keys, builder.column("detail", np.int32))
    return KinetoTrace(
        source=source,
        ts_rel_us=ts,
        epoch_ns=base or 0,
        dur_us=dur,
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
        base_time_ns=base,
        metadata=metadata,
    )


def _check_times(ts: F64, dur: F64, epoch_ns: int, source: str) -> None:
    """Refuses times no clock writes (a corrupted file), which would overflow int64 nanoseconds later."""
    if not ts.size:
        return
    start_us = ts + epoch_ns / 1000
    bad = ~(np.abs(start_us) <= _MAX_TIME_US) | ~(np.abs(dur) <= _MAX_DURATION_US)  # NaN is bad too
    if bad.any():
        row = int(np.argmax(bad))
        raise KinetoFormatError(
            f"{source}: times out of range in {int(bad.sum())} of {ts.size} events "
            f"(the first: ts {float(ts[row])!r} µs, dur {float(dur[row])!r} µs)"
        )
    if float(start_us.max() - start_us.min()) > _MAX_TIME_US:
        raise KinetoFormatError(f"{source}: events span more than 146 years (ts out of range)")


def _details(keys: dict[tuple[Any, ...], int], ids: I32) -> tuple[list[str], I32]:
    """The distinct texts of the rows' detail keys, in order of first use, and each row's id among them;
    a text that says nothing (no inputs, or only scalars) is no detail at all."""
    texts: dict[str, int] = {}
    text_ids = [texts.setdefault(text, len(texts)) if text else NO_DETAIL for text in map(_detail_text, keys)]
    ids = np.array([*text_ids, NO_DETAIL], np.int32)[ids]  # the last entry maps NO_DETAIL (-1) to itself
    has = ids != NO_DETAIL
    codes, used = pd.factorize(ids[has])  # in order of first use, whatever order the keys were made in
    ids[has] = codes
    table = list(texts)
    return [table[i] for i in used.tolist()], ids


def _detail_text(key: tuple[Any, ...]) -> str:
    kind = key[0]
    if kind == "kernel":
        _, grid, block, registers, shared = key
        text = f"grid {list(grid)} · block {list(block)}"
        text += f" · {registers} regs" if registers >= 0 else ""
        return text + (f" · {shared} B smem" if shared >= 0 else "")
    if kind == "copy":
        _, size, bandwidth = key
        return f"{size} bytes" + (f" · {bandwidth:.4g} GB/s" if bandwidth >= 0 else "")
    try:
        dims = msgspec.json.decode(key[1])
        if not isinstance(dims, list) or not any(d != [] for d in dims):
            return ""
        return f"shapes {json.dumps(dims)}"
    except (msgspec.DecodeError, RecursionError):
        return ""
