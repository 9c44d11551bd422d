"""Colours, stable across processes: a package keeps its colour from one run to the next."""

from __future__ import annotations

import hashlib

# Muted warm-to-cool tones: readable black text on every one of them.
PACKAGE_PALETTE = (
    "#f4a582",
    "#fdd49e",
    "#c7e9c0",
    "#9ecae1",
    "#d4b9da",
    "#fdae6b",
    "#a1d99b",
    "#c6dbef",
    "#fcbba1",
    "#dadaeb",
    "#e6d5a8",
    "#b8e0d2",
)
NEUTRAL = "#d9d9d9"

SPAN_KIND_COLORS = {
    "llm": "#fd8d3c",
    "embedding": "#74c476",
    "retrieval": "#6baed6",
    "tool": "#9e9ac8",
    "agent": "#bdbdbd",
    "chain": "#9ecae1",
    "parse": "#fdae6b",
    "prompt": "#a1d99b",
    # The cell's own span sits behind everything: a neutral shade no stage kind uses.
    "cell": "#e7e1d3",
}
OTHER_KINDS_PALETTE = ("#bcbddc", "#fdd0a2", "#c7e9c0", "#d9d9d9", "#fcbba1", "#c6dbef")
TOKEN_COLOR = "#222222"


def stable_index(key: str, modulo: int) -> int:
    # Python's hash() is salted per process; a digest keeps colours identical across sessions.
    digest = hashlib.blake2s(key.encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "big") % modulo


def package_of(file: str) -> str:
    """The installed package a source file belongs to, else the file's base name; "" for synthetic frames."""
    if not file:
        return ""
    parts = file.replace("\\", "/").split("/")
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            index = parts.index(marker)
            if index + 1 < len(parts):
                return parts[index + 1].removesuffix(".py")
    return parts[-1].removesuffix(".py")


def package_color(package: str) -> str:
    return PACKAGE_PALETTE[stable_index(package, len(PACKAGE_PALETTE))] if package else NEUTRAL


def span_kind_color(kind: str) -> str:
    known = SPAN_KIND_COLORS.get(kind)
    return known if known is not None else OTHER_KINDS_PALETTE[stable_index(kind, len(OTHER_KINDS_PALETTE))]


# Phases of one LLM request, in time order (see analysis/breakdown.py); the same colours in the request
# waterfall and the communication breakdown. Waiting phases are cool, work on the answer warm.
PHASE_COLORS = {
    "queue": "#bdbdbd",
    "connect": "#9e9ac8",
    "headers": "#6baed6",
    "first_token": "#fdae6b",
    "decode": "#41ab5d",
    "tail": "#d9d9d9",
    "parse": "#e7298a",
}
PHASE_TITLES = {
    "queue": "in the client before send",
    "connect": "connecting",
    "headers": "waiting for headers",
    "first_token": "waiting for first token",
    "decode": "decode (streaming)",
    "tail": "after last token",
    "parse": "SDK parsing (during decode)",
}
FAILED_COLOR = "#cb181d"
FAILED_FILL = "#fcbba1"
REQUEST_FILL = "#f0f0f0"
CRITICAL_OUTLINE = "#111111"


def phase_color(phase: str) -> str:
    return PHASE_COLORS.get(phase, NEUTRAL)
