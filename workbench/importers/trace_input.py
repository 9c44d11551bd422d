"""A trace file's text, read with a bound on its size: gzip is inflated step by step and stops at the cap.

A 1 MB gzip can hold 1 GB of zeros. `gzip.decompress` builds all of it before the JSON decoder can say
it is not a trace (2.2 GB peak for that one); here each step's output is counted, reading stops at the
first byte past the cap, and text that cannot open a JSON object is refused at its first step. Memory
stays near the cap (the text, as a growing bytearray, and one step), whatever the file holds.
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

# 2 GiB of JSON is ~6 million Kineto events, three times what one run keeps (`kineto.MAX_OPS`); a trace
# that big needs a few times that in memory to decode anyway, so past it we ask the user to opt in.
MAX_TRACE_BYTES = 2 << 30
MAX_TRACE_BYTES_ENV = "WORKBENCH_MAX_TRACE_BYTES"
GZIP_MAGIC = b"\x1f\x8b"
_STEP = 1 << 20  # bytes read from the file, and most bytes inflated, per step
_WHITESPACE = b" \t\r\n"  # JSON's, which may come before the opening brace
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


class TraceInputError(ValueError):
    """The file's bytes cannot be a trace: damaged gzip, too large, or not a JSON object."""


def max_trace_bytes(override: int | None = None) -> int:
    """The cap: `override`, else $WORKBENCH_MAX_TRACE_BYTES (bytes, or with a K/M/G/T suffix), else 2 GiB."""
    if override is not None:
        if override < 1:
            raise ValueError(f"max_bytes must be positive, not {override}")
        return override
    text = os.environ.get(MAX_TRACE_BYTES_ENV, "").strip()
    if not text:
        return MAX_TRACE_BYTES
    match = _SIZE.fullmatch(text)
    if match is None or float(match[1]) * _UNITS[match[2].lower()] < 1:
        raise TraceInputError(f"{MAX_TRACE_BYTES_ENV}={text!r} is not a size in bytes (e.g. 8G, 8589934592)")
    return int(float(match[1]) * _UNITS[match[2].lower()])


def read_trace_file(path: Path, max_bytes: int) -> bytearray:
    """The file's text, inflated if it starts with the gzip magic (whatever its suffix)."""
    with path.open("rb") as file:
        return trace_text(iter(lambda: file.read(_STEP), b""), max_bytes)


def trace_text(chunks: Iterable[bytes | memoryview], max_bytes: int) -> bytearray:
    """The text carried by `chunks` (the file's bytes in order), inflated when they are gzip."""
    parts = iter(chunks)
    first = b""
    for part in parts:  # a pipe may hand over a single byte first: enough to tell gzip apart
        first += part
        if len(first) >= len(GZIP_MAGIC):
            break
    if first[: len(GZIP_MAGIC)] == GZIP_MAGIC:
        return _inflate(_chained(first, parts), max_bytes)
    return _gather(_chained(first, parts), max_bytes)


def in_steps(data: bytes | bytearray | memoryview) -> Iterator[memoryview]:
    """Bytes already in memory as the steps `trace_text` takes, without copying them."""
    view = memoryview(data)
    for start in range(0, len(view), _STEP):
        yield view[start : start + _STEP]


def _chained(first: bytes, rest: Iterator[bytes | memoryview]) -> Iterator[bytes | memoryview]:
    if first:
        yield first
    yield from rest


def _gather(chunks: Iterable[bytes | memoryview], max_bytes: int) -> bytearray:
    out = bytearray()
    opening = _Opening()
    for chunk in chunks:
        if len(out) + len(chunk) > max_bytes:
            raise TraceInputError(_too_large("the file is larger than", max_bytes))
        opening.check(chunk)
        out += chunk
    return out


def _inflate(chunks: Iterable[bytes | memoryview], max_bytes: int) -> bytearray:
    """Gzip members one after another (as `gzip.decompress` reads them), zero padding after one allowed."""
    out = bytearray()
    opening = _Opening()
    inflater: zlib._Decompress | None = zlib.decompressobj(wbits=31)  # None: between members
    for chunk in chunks:
        data = bytes(chunk)
        while True:
            if inflater is None:
                data = data.lstrip(b"\0")
                if not data:
                    break
                inflater = zlib.decompressobj(wbits=31)
            limit = min(_STEP, max_bytes + 1 - len(out))  # never hold more than one byte past the cap
            try:
                piece = inflater.decompress(data, limit)
            except zlib.error as error:
                raise TraceInputError(f"damaged gzip data ({error})") from error
            if len(out) + len(piece) > max_bytes:
                raise TraceInputError(_too_large("its decompressed size passed", max_bytes))
            opening.check(piece)
            out += piece
            if inflater.eof:
                data, inflater = inflater.unused_data, None
                continue
            data = inflater.unconsumed_tail
            # With input left, or a full piece, go again: zlib may hold output back after taking all its
            # input (a long repeat), and asking once more with none costs one call.
            if not data and len(piece) < limit:
                break
    if inflater is not None:
        raise TraceInputError("damaged gzip data (the file ends before the compressed stream does)")
    return out


class _Opening:
    """Refuses text whose first character past whitespace is not `{`: a trace is one JSON object, so
    zeros, binary data or an array are known to be no trace after one step, not after the whole file."""

    def __init__(self) -> None:
        self.seen = False

    def check(self, piece: bytes | memoryview) -> None:
        if self.seen:
            return
        start = bytes(piece).lstrip(_WHITESPACE)
        if not start:
            return
        self.seen = True
        if start[:1] != b"{":
            raise TraceInputError(f"not valid JSON, or not an object (it starts with {start[:16]!r})")


def _too_large(what: str, max_bytes: int) -> str:
    return (
        f"{what} the {_human(max_bytes)} limit on a trace's text ({max_bytes:,} bytes); if the file is a "
        f"real trace, raise the limit with {MAX_TRACE_BYTES_ENV}=<bytes, e.g. 8G> or max_bytes=..."
    )


def _human(size: int) -> str:
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} B"
