"""The GPU part of the run summary, in words: kernels, busy vs idle, launch overhead, telemetry."""

from __future__ import annotations

from typing import Any

from workbench.model.series import MEM_USED_BYTES, POWER_W, UTIL_PCT, split_series

TOP_KERNELS = 3


def gpu_phrase(gpu: dict[str, Any] | None) -> str | None:
    """One phrase for the summary line; None when the run traced no ops and sampled no GPU."""
    if not gpu:
        return None
    counts = gpu.get("counts") or {}
    kernels = int(counts.get("kernel", 0))
    if kernels:
        busy = gpu.get("busy_share")
        busy_text = f", GPU busy {busy:.0%}" if isinstance(busy, int | float) else ""
        return f"{kernels:,} kernels on {len(gpu.get('streams') or [])} stream(s){busy_text}"
    if counts.get("cpu_op"):
        return f"{int(counts['cpu_op']):,} torch ops (no GPU trace)"
    return telemetry_phrase(gpu)


def gpu_lines(gpu: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(label, text) rows for the text summary."""
    if not gpu:
        return []
    rows: list[tuple[str, str]] = []
    counts = gpu.get("counts") or {}
    if counts.get("kernel"):
        rows.append(("GPU", _device_phrase(gpu)))
        rows.append(("kernels", _top_phrase(gpu.get("top_kernels") or [])))
        launch = _launch_phrase(gpu.get("launch") or {})
        if launch:
            rows.append(("launch", launch))
        sync = gpu.get("sync") or {}
        if sync.get("calls"):
            text = f"{sync['calls']:,} host-device synchronisations, {sync['total_ms']:,.1f} ms"
            rows.append(("sync", text))
    elif counts.get("cpu_op"):
        top = _top_phrase(gpu.get("top_cpu_ops") or [])
        rows.append(("torch ops", f"{counts['cpu_op']:,} CPU ops · {top}"))
    if gpu.get("gpu_note"):
        rows.append(("GPU trace", str(gpu["gpu_note"])))
    telemetry = telemetry_phrase(gpu)
    if telemetry:
        rows.append(("telemetry", telemetry))
    return rows


def _device_phrase(gpu: dict[str, Any]) -> str:
    parts = [
        f"device {d['device']}: busy {d['busy_ms']:,.1f} ms ({d['busy_share']:.0%} of the cell), "
        f"idle {d['idle_ms']:,.1f} ms"
        for d in gpu.get("devices") or []
    ]
    return "; ".join(parts) or "no GPU work in the cell"


def _top_phrase(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "none"
    return "top: " + ", ".join(
        f"{_short(r['name'])} {r['total_ms']:,.2f} ms ×{r['count']:,}" for r in rows[:TOP_KERNELS]
    )


def _launch_phrase(launch: dict[str, Any]) -> str | None:
    if not launch.get("calls"):
        return None
    ratio = launch.get("launch_to_kernel")
    ratio_text = f" ({ratio:.2f}× the kernels' GPU time)" if isinstance(ratio, int | float) else ""
    return (
        f"{launch['calls']:,} launches, {launch['total_ms']:,.1f} ms on the host, "
        f"median {launch.get('median_us', launch['mean_us']):,.1f} µs{ratio_text}"
    )


def telemetry_phrase(gpu: dict[str, Any]) -> str | None:
    summary = gpu.get("telemetry") or {}
    parts = []
    for series, stats in summary.items():
        parsed = split_series(series)
        if parsed is None or parsed[0] != "gpu":
            continue
        _, device, metric = parsed
        if metric == UTIL_PCT:
            parts.append(f"GPU {device} util mean {stats['mean']:.0f}% (max {stats['max']:.0f}%)")
        elif metric == MEM_USED_BYTES:
            parts.append(f"memory max {stats['max'] / 2**30:,.2f} GiB")
        elif metric == POWER_W:
            parts.append(f"power mean {stats['mean']:,.0f} W")
    rate = (gpu.get("sampler") or {}).get("rate_hz_achieved")
    if parts and isinstance(rate, int | float):
        parts.append(f"NVML at {rate:.1f} Hz")
    return ", ".join(parts) or None


def _short(name: str, limit: int = 48) -> str:
    """Kernel names are C++ templates hundreds of characters long; the head says which kernel."""
    return name if len(name) <= limit else name[: limit - 1] + "…"
