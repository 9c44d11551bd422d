"""The arguments of a trace's communication kernels that say which collective each one is.

`read_kineto` keeps only the columns every view needs; matching collectives across ranks also needs the
NCCL arguments newer PyTorch writes on each communication kernel ("Process Group Name", "Seq",
"Collective name", "In msg nelems"). They are read here in a second, narrow pass over the events that
mention a collective library at all, so a trace without collectives pays one substring scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from workbench.analysis.ranks import COMMUNICATION_PATTERN
from workbench.importers.kineto import KinetoClockMap, KinetoFormatError
from workbench.importers.trace_input import TraceInputError, max_trace_bytes, read_trace_file

NO_SEQ = -1


class _CommArgs(msgspec.Struct, gc=False):
    stream: int | str = -1
    device: int | str = -1
    group: Any = msgspec.field(default="", name="Process Group Name")
    seq: Any = msgspec.field(default=None, name="Seq")
    seq_num: Any = None
    collective: Any = msgspec.field(default="", name="Collective name")
    nelems: Any = msgspec.field(default=None, name="In msg nelems")


class _CommEvent(msgspec.Struct, gc=False):
    ph: str = ""
    cat: str = ""
    name: str = ""
    ts: float = 0.0
    dur: float = 0.0
    args: _CommArgs | None = None


_TOP = msgspec.json.Decoder(dict[str, msgspec.Raw])
_SLICES = msgspec.json.Decoder(list[msgspec.Raw])
_EVENT = msgspec.json.Decoder(_CommEvent)
_MARKERS = (b"ccl", b"hip")  # what HTA's communication pattern needs in a name (nccl, rccl, hccl, hip)


@dataclass
class CommKernels:
    """One rank's communication kernels on the run clock, in start order: the input to matching."""

    start_ns: npt.NDArray[np.int64]
    end_ns: npt.NDArray[np.int64]
    stream: npt.NDArray[np.int64]
    seq: npt.NDArray[np.int64]  # NO_SEQ where the trace does not number its collectives
    group: list[str]  # the process group's name; "" where the trace does not say
    name: list[str]  # "Collective name" where given, else the kernel's name
    nelems: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.start_ns.size)

    def shifted(self, by_ns: int) -> CommKernels:
        return CommKernels(
            self.start_ns + by_ns,
            self.end_ns + by_ns,
            self.stream,
            self.seq,
            self.group,
            self.name,
            self.nelems,
        )


def empty_comm() -> CommKernels:
    zeros = np.zeros(0, np.int64)
    return CommKernels(zeros, zeros, zeros, zeros, [], [], zeros)


def read_comm_kernels(
    path: str | Path, epoch_ns: int, clock: KinetoClockMap, max_bytes: int | None = None
) -> CommKernels:
    """The communication kernels of the trace at `path`, mapped with `clock` like its op table."""
    try:
        text = read_trace_file(Path(path), max_trace_bytes(max_bytes))
    except TraceInputError as error:
        raise KinetoFormatError(f"{path}: {error}") from error
    if not any(marker in text for marker in _MARKERS):
        return empty_comm()
    try:
        raw = _TOP.decode(text).get("traceEvents")
        slices = _SLICES.decode(raw) if raw is not None else []
        events = [_EVENT.decode(s) for s in slices if any(m in bytes(s) for m in _MARKERS)]
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise KinetoFormatError(f"{path}: unexpected event ({error})") from error
    kernels = [
        e for e in events if e.ph == "X" and e.cat.lower() == "kernel" and COMMUNICATION_PATTERN.match(e.name)
    ]
    kernels.sort(key=lambda e: e.ts)
    return _columns(kernels, epoch_ns, clock)


def _columns(kernels: list[_CommEvent], epoch_ns: int, clock: KinetoClockMap) -> CommKernels:
    args = [e.args or _CommArgs() for e in kernels]
    start = clock.to_run_ns(np.array([e.ts for e in kernels], np.float64), epoch_ns=epoch_ns)
    length = np.rint(np.array([e.dur for e in kernels], np.float64) * (1000.0 * clock.scale)).astype(np.int64)
    return CommKernels(
        start_ns=start,
        end_ns=start + np.maximum(length, 0),
        stream=np.array([_int(a.stream) for a in args], np.int64),
        seq=np.array([_int(a.seq if a.seq is not None else a.seq_num) for a in args], np.int64),
        group=[str(a.group or "") for a in args],
        name=[str(a.collective or e.name) for e, a in zip(kernels, args, strict=True)],
        nelems=np.array([_int(a.nelems) for a in args], np.int64),
    )


def _int(value: Any) -> int:
    """An int from an argument written as a number or a string ("0x0", "12"); -1 when it is neither."""
    if isinstance(value, bool):
        return -1
    if isinstance(value, int):
        return value if -(1 << 63) <= value < 1 << 63 else -1
    if isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError:
            return -1
    return -1
