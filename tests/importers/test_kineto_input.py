"""Reading a trace's bytes with a cap on their size: a gzip bomb stops at the cap (or at its first step when
it cannot be JSON) with memory that stays near the cap, and the error says how to raise it."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest

from tests.kineto_data import kineto_trace
from workbench.importers import trace_input
from workbench.importers.kineto import KinetoFormatError, read_kineto, read_kineto_bytes
from workbench.importers.trace_input import MAX_TRACE_BYTES, MAX_TRACE_BYTES_ENV

MiB = 1 << 20


def bomb(path: Path, head: bytes, filler: bytes, size: int) -> Path:
    """`head` then `size` bytes of `filler`, gzipped a MiB at a time (64 MiB of one byte gzips to ~64 KB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    with path.open("wb") as file:
        file.write(packer.compress(head))
        block = filler * MiB
        for _ in range(size // MiB):
            file.write(packer.compress(block))
        file.write(packer.flush())
    return path


def peak_while(call: object) -> tuple[BaseException, int]:
    """The error `call` raises and the most memory Python held meanwhile (above what it held before)."""
    assert callable(call)
    tracemalloc.start()
    try:
        call()
    except BaseException as error:  # returned to the test, which checks its type
        caught = error
    else:
        raise AssertionError("no error")
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return caught, peak


@pytest.mark.timeout(120)
def test_a_gzip_bomb_of_whitespace_stops_at_the_cap_with_bounded_memory(tmp_path: Path) -> None:
    # Whitespace after an opening brace is the start of valid JSON: only the cap can stop it.
    path = bomb(tmp_path / "bomb.json.gz", b'{"traceEvents": [', b" ", 64 * MiB)
    assert path.stat().st_size < MiB
    error, peak = peak_while(lambda: read_kineto(path, max_bytes=4 * MiB))
    assert isinstance(error, KinetoFormatError)
    message = str(error)
    assert str(path) in message and "decompressed size" in message
    assert "4 MiB" in message and f"{4 * MiB:,} bytes" in message  # names the cap ...
    assert MAX_TRACE_BYTES_ENV in message and "max_bytes" in message  # ... and how to raise it
    assert peak < 12 * MiB, peak  # the cap and a step or two, not the 64 MiB inside


@pytest.mark.timeout(120)
def test_a_gzip_bomb_of_zeros_is_refused_at_its_first_step(tmp_path: Path) -> None:
    # The case: zeros can open no JSON object, so they need not be inflated to be refused.
    path = bomb(tmp_path / "zeros.json.gz", b"", b"\0", 64 * MiB)
    error, peak = peak_while(lambda: read_kineto(path))  # the default cap: GiBs
    assert isinstance(error, KinetoFormatError)
    assert "not valid JSON" in str(error) and "\\x00" in str(error)
    assert peak < 8 * MiB, peak


@pytest.mark.timeout(60)
def test_the_environment_variable_sets_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = bomb(tmp_path / "bomb.json.gz", b'{"traceEvents": [', b"\n", 8 * MiB)
    monkeypatch.setenv(MAX_TRACE_BYTES_ENV, "1M")
    with pytest.raises(KinetoFormatError, match=r"passed the 1 MiB limit .*1,048,576 bytes"):
        read_kineto(path)
    monkeypatch.setenv(MAX_TRACE_BYTES_ENV, "lots")
    with pytest.raises(KinetoFormatError, match=f"{MAX_TRACE_BYTES_ENV}='lots' is not a size"):
        read_kineto(path)
    monkeypatch.delenv(MAX_TRACE_BYTES_ENV)
    assert MAX_TRACE_BYTES >= 1 << 30  # a few GiB by default: any real trace fits


def test_a_real_trace_reads_at_its_exact_size_and_not_one_byte_under(tmp_path: Path) -> None:
    packed = kineto_trace("alexnet_cuda.json.gz").read_bytes()
    size = len(gzip.decompress(packed))
    assert len(read_kineto_bytes(packed, "alexnet", max_bytes=size)) == 867
    with pytest.raises(KinetoFormatError, match=r"alexnet: its decompressed size passed"):
        read_kineto_bytes(packed, "alexnet", max_bytes=size - 1)
    plain = tmp_path / "alexnet.json"
    plain.write_bytes(gzip.decompress(packed))
    assert len(read_kineto(plain, max_bytes=size)) == 867
    with pytest.raises(KinetoFormatError, match=r"the file is larger than the .* limit"):
        read_kineto(plain, max_bytes=size - 1)


def test_plain_zeros_are_refused_without_reading_them_all(tmp_path: Path) -> None:
    path = tmp_path / "zeros.json"
    path.write_bytes(bytes(16 * MiB))
    error, peak = peak_while(lambda: read_kineto(path))
    assert isinstance(error, KinetoFormatError) and "not valid JSON" in str(error)
    assert peak < 4 * MiB, peak


def test_gzip_members_and_zero_padding_read_as_gzip_does(tmp_path: Path) -> None:
    text = b'{"traceEvents": [{"ph": "X", "cat": "kernel", "name": "k", "ts": 1, "dur": 2}]}'
    members = gzip.compress(text[:20]) + gzip.compress(text[20:])
    assert gzip.decompress(members) == text
    for data in (members, members + bytes(100), gzip.compress(text) + bytes(3)):
        assert read_kineto_bytes(data, "t.json.gz").names == ["k"]
    for broken in (members + b"junk", members[:-1], gzip.compress(text)[:10], b"\x1f\x8b"):
        with pytest.raises(KinetoFormatError, match=r"t\.json\.gz: damaged gzip data"):
            read_kineto_bytes(broken, "t.json.gz")
    crc = bytearray(gzip.compress(text))
    crc[-8] ^= 0xFF  # the CRC of the text, which zlib checks at the member's end
    with pytest.raises(KinetoFormatError, match="damaged gzip data"):
        read_kineto_bytes(bytes(crc), "t.json.gz")


def test_long_runs_inflate_exactly(tmp_path: Path) -> None:
    # zlib may hold output back after taking all its input; none of it may be lost between steps.
    events = ",".join(['{"ph": "X", "cat": "cpu_op", "name": "op", "ts": 1, "dur": 1}'] * 40_000)
    text = b'{"traceEvents": [' + events.encode() + b"]" + b" " * (5 * MiB + 7) + b"}"
    trace = read_kineto_bytes(gzip.compress(text, 9), "runs.json.gz")
    assert len(trace) == 40_000 and np.all(trace.dur_us == 1)


@pytest.mark.parametrize("chunk", [1, 3, 1000])
def test_tiny_steps_lose_no_output(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Steps of a few bytes, in and out: one input byte (a 258-byte repeat) inflates past a step, members
    # and the cap fall mid-chunk, and the text still comes out byte for byte.
    monkeypatch.setattr(trace_input, "_STEP", 5)
    text = b'{"traceEvents": [' + b" " * 5000 + b'{"ph": "X", "name": "k"}' * 50 + b"]}" + b"\n" * 999
    packed = gzip.compress(text, 9) + gzip.compress(b" " * 3000)
    pieces = [packed[i : i + chunk] for i in range(0, len(packed), chunk)]
    assert bytes(trace_input.trace_text(pieces, len(text) + 3000)) == text + b" " * 3000
    with pytest.raises(trace_input.TraceInputError, match="decompressed size passed"):
        trace_input.trace_text(pieces, len(text) + 2999)
