"""(De)serialisation of an `OpTable` as one `.npz` file: the columns as arrays, the rest as JSON."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

from workbench.model.ops import OpLane, OpTable

OPS_SCHEMA_VERSION = 1
_COLUMNS = {
    "start_ns": np.int64,
    "end_ns": np.int64,
    "category": np.uint8,
    "name_id": np.int32,
    "lane_id": np.int32,
    "correlation": np.int64,
    "detail_id": np.int32,
}


class OpsFormatError(ValueError):
    """An ops file that does not hold what an `OpTable` needs; the message says what is wrong."""


def ops_to_bytes(table: OpTable) -> bytes:
    meta = {
        "schema_version": OPS_SCHEMA_VERSION,
        "names": table.names,
        "lanes": [[lane.kind, lane.device, lane.ident, lane.label] for lane in table.lanes],
        "details": table.details,
        "source": table.source,
        "dropped": table.dropped,
        "gpu_note": table.gpu_note,
        "devices": table.devices,
    }
    buffer = io.BytesIO()
    arrays = {name: getattr(table, name) for name in _COLUMNS}
    # The metadata travels as UTF-8 bytes, so loading never needs pickle.
    np.savez_compressed(buffer, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
    return buffer.getvalue()


def ops_from_bytes(data: bytes) -> OpTable:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            meta: dict[str, Any] = json.loads(npz["meta"].tobytes())
            columns = {name: npz[name].astype(dtype, copy=False) for name, dtype in _COLUMNS.items()}
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as error:
        raise OpsFormatError(f"unreadable ({type(error).__name__}: {error})") from error
    if meta.get("schema_version") != OPS_SCHEMA_VERSION:
        raise OpsFormatError(f"schema_version {meta.get('schema_version')!r} is not supported")
    sizes = {column.size for column in columns.values()}
    if len(sizes) != 1:
        raise OpsFormatError(f"columns of different lengths {sorted(sizes)}")
    try:
        return OpTable(
            **columns,
            names=[str(n) for n in meta["names"]],
            lanes=[OpLane(str(k), int(d), int(i), str(label)) for k, d, i, label in meta["lanes"]],
            details=[str(d) for d in meta["details"]],
            source=str(meta.get("source", "")),
            dropped=int(meta.get("dropped", 0)),
            gpu_note=str(meta.get("gpu_note", "")),
            devices=list(meta.get("devices", [])),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise OpsFormatError(f"malformed metadata ({type(error).__name__}: {error})") from error
