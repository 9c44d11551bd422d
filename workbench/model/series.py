"""Names of telemetry counter series, shared by the collectors that write them and the views that draw them.

A series name is `<source><index>.<metric>`: `gpu0.util_pct` is NVML's reading of device 0,
`cuda0.allocated_bytes` is torch's caching allocator on CUDA device 0 (torch's and NVML's device
numbering can differ under CUDA_VISIBLE_DEVICES, hence two prefixes).
"""

from __future__ import annotations

NVML_PREFIX = "gpu"
TORCH_PREFIX = "cuda"

# NVML, per device
UTIL_PCT = "util_pct"  # share of time a kernel ran (nvmlDeviceGetUtilizationRates .gpu)
MEM_UTIL_PCT = "mem_util_pct"  # share of time memory was read or written (.memory)
MEM_USED_BYTES = "mem_used_bytes"
POWER_W = "power_w"
SM_CLOCK_MHZ = "sm_clock_mhz"
TEMP_C = "temp_c"
PCIE_TX_BYTES_S = "pcie_tx_bytes_s"
PCIE_RX_BYTES_S = "pcie_rx_bytes_s"
PROC_MEM_BYTES = "proc_mem_bytes"  # this process's own memory on the device
PROC_UTIL_PCT = "proc_util_pct"  # this process's own SM utilisation, where the driver reports it
# torch's caching allocator, per CUDA device
ALLOCATED_BYTES = "allocated_bytes"
RESERVED_BYTES = "reserved_bytes"

NVML_METRICS = (
    UTIL_PCT,
    MEM_UTIL_PCT,
    MEM_USED_BYTES,
    POWER_W,
    SM_CLOCK_MHZ,
    TEMP_C,
    PCIE_TX_BYTES_S,
    PCIE_RX_BYTES_S,
    PROC_MEM_BYTES,
    PROC_UTIL_PCT,
)
TORCH_METRICS = (ALLOCATED_BYTES, RESERVED_BYTES)


def nvml_series(device: int, metric: str) -> str:
    return f"{NVML_PREFIX}{device}.{metric}"


def torch_series(device: int, metric: str) -> str:
    return f"{TORCH_PREFIX}{device}.{metric}"


def split_series(series: str) -> tuple[str, int, str] | None:
    """("gpu", 0, "util_pct") for "gpu0.util_pct"; None for a series that is not GPU telemetry."""
    head, _, metric = series.partition(".")
    for prefix in (NVML_PREFIX, TORCH_PREFIX):
        index = head[len(prefix) :]
        if head.startswith(prefix) and index.isdigit() and metric:
            return prefix, int(index), metric
    return None
