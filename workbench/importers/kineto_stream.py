"""A trace's text as a stream of pieces, and its events array cut into batches as the pieces arrive.

`kineto_decode` reads a large trace this way: the gzip is inflated a step at a time (by a thread, while
the previous batch is decoded) and each batch of events is decoded from a buffer of a few MB, so the
whole text (~430 MB for a million events) never sits in memory. The pieces carry the same checks as
`trace_input.trace_text`: the cap on the decompressed size, damaged gzip, text that opens no object.

The cuts need no JSON scanner. A batch ends at a `}, {` between two events, and its two end bytes (the
comma before it, or the array's `[`, and the comma after it) become `[` and `]`. A `}, {` inside a string
or a nested value leaves that batch unbalanced, which the decoder rejects: a batch that decodes, starting
where the one before ended, proves its cut. On a rejection the caller reads the text again the general way
(as on `NotSplittable`), which gives the same trace or names what is wrong: nothing is lost but time.
"""

from __future__ import annotations

import queue
import re
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator

from workbench.importers.trace_input import (
    GZIP_MAGIC,
    TraceInputError,
    _Opening,  # the check on the first text byte, shared with trace_text
    _too_large,
)

STEP = 1 << 20  # bytes read from the file per chunk, and inflated for the first piece
# Bytes inflated per later piece: each piece costs the inflating thread one handover of the GIL, which on a
# busy machine can wait for a time slice, so they are few and large.
PIECE = 8 << 20
BATCH_BYTES = 8 << 20  # text decoded at once: ~25,000 events, ~10 MB of objects while they are alive
_EVENTS_KEY = re.compile(rb'"traceEvents"\s*:\s*\[')
_NEXT_EVENT = re.compile(rb"\}\s*(,)\s*\{")  # an event's end, the comma, the next event's start
_QUEUED = 2  # pieces inflated ahead of the decoder: enough to keep the thread busy


class NotSplittable(Exception):
    """The text has no layout `events_in_batches` can cut; the general reader reads it."""


def text_pieces(chunks: Iterable[bytes | memoryview], max_bytes: int) -> Iterator[bytes]:
    """The text carried by `chunks` (the file's bytes in order), inflated when they are gzip, a piece
    at a time; raises `TraceInputError` as `trace_input.trace_text` would, when it would."""
    parts = iter(chunks)
    first = b""
    for part in parts:  # a pipe may hand over a single byte first: enough to tell gzip apart
        first += part
        if len(first) >= len(GZIP_MAGIC):
            break
    rest = _chained(first, parts)
    pieces = _inflated(rest, max_bytes) if first[: len(GZIP_MAGIC)] == GZIP_MAGIC else _plain(rest, max_bytes)
    opening = _Opening()
    for piece in pieces:
        opening.check(piece)
        yield piece


def _chained(first: bytes, rest: Iterator[bytes | memoryview]) -> Iterator[bytes | memoryview]:
    if first:
        yield first
    yield from rest


def _plain(chunks: Iterable[bytes | memoryview], max_bytes: int) -> Iterator[bytes]:
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise TraceInputError(_too_large("the file is larger than", max_bytes))
        yield bytes(chunk)


def _inflated(chunks: Iterable[bytes | memoryview], max_bytes: int) -> Iterator[bytes]:
    """Gzip members one after another (as `gzip.decompress` reads them), zero padding after one allowed."""
    size = 0
    step = STEP  # the first piece is small: text that opens no JSON object is refused after it
    inflater: zlib._Decompress | None = zlib.decompressobj(wbits=31)  # None: between members
    for chunk in chunks:
        data = bytes(chunk)
        while True:
            if inflater is None:
                data = data.lstrip(b"\0")
                if not data:
                    break
                inflater = zlib.decompressobj(wbits=31)
            limit = min(step, max_bytes + 1 - size)  # never hold more than one byte past the cap
            try:
                piece = inflater.decompress(data, limit)
            except zlib.error as error:
                raise TraceInputError(f"damaged gzip data ({error})") from error
            size += len(piece)
            if size > max_bytes:
                raise TraceInputError(_too_large("its decompressed size passed", max_bytes))
            if piece:
                yield piece
                step = PIECE
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


def events_in_batches(pieces: Iterable[bytes]) -> Iterator[tuple[str, bytes | memoryview]]:
    """The text in parts to decode, in order: ("top", the text before the events array closed as an object
    by `[]}`), then ("events", a JSON array of whole events) for each batch, last ("rest", the remaining
    events and the keys after them, as an object whose "traceEvents" holds those events).

    Each "events" buffer is a bytearray of its own, never written again, so what the decoder keeps of it
    (raw values) stays valid. Raises `NotSplittable` when the text has no "traceEvents" array; a cut that
    was wrong shows as the decoder's error on that batch (see the module's docstring).
    """
    stream = iter(pieces)
    text = bytearray()
    key = None
    for piece in stream:
        searched = max(0, len(text) - 64)
        text += piece
        key = _EVENTS_KEY.search(text, searched)
        if key is not None:
            break
    if key is None:
        raise NotSplittable
    yield "top", bytes(text[: key.end() - 1]) + b"[]}"
    text = text[key.end() - 1 :]  # starts at the array's "[", as each later batch starts at its comma
    for piece in stream:
        searched = len(text)
        text += piece
        if len(text) < BATCH_BYTES:
            continue
        found = _last_cut(text, max(1, searched - 64))
        if found is None:
            continue
        end = found.start(1)
        batch, text = text, text[end:]  # a new buffer for what follows: the old one stays the decoder's
        batch[0], batch[end] = 0x5B, 0x5D  # "[" and "]"
        yield "events", memoryview(batch)[: end + 1]
    yield "rest", b'{"traceEvents": [' + bytes(text[1:])


def _last_cut(text: bytearray, start: int) -> re.Match[bytes] | None:
    """The last `}, {` in `text[start:]` (what just arrived), so that little is left over for the next
    batch; past a few closing braces that are not one, the first instead."""
    end = len(text)
    for _ in range(64):
        brace = text.rfind(b"}", start, end)
        if brace < 0:
            return None
        if found := _NEXT_EVENT.match(text, brace):
            return found
        end = brace
    return _NEXT_EVENT.search(text, start)


def prefetched(make: Callable[[], Iterator[bytes]], ahead: int = _QUEUED) -> Iterator[bytes]:
    """The items of the iterator `make()` returns, produced by a thread up to `ahead` items before they are
    taken: zlib inflates without the GIL, so inflating overlaps decoding on a second core. An error in the
    thread is raised here, in order; stopping early (close, or an error here) stops and joins the thread."""
    items: queue.Queue[tuple[bool, object]] = queue.Queue(ahead)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in make():
                while not stop.is_set():
                    try:
                        items.put((True, item), timeout=0.05)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            outcome: tuple[bool, object] = (False, None)
        except BaseException as error:  # handed to the consumer, which raises it
            outcome = (False, error)
        while not stop.is_set():
            try:
                items.put(outcome, timeout=0.05)
                return
            except queue.Full:
                continue

    thread = threading.Thread(target=produce, name="kineto-inflate", daemon=True)
    thread.start()
    try:
        while True:
            more, item = items.get()
            if not more:
                if isinstance(item, BaseException):
                    raise item
                return
            assert isinstance(item, bytes)
            yield item
    finally:
        stop.set()
        thread.join()
