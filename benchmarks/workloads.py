"""The three FM workloads, as code: setup cells and one timed body each, for a kernel or a script.

(a) `quickstart`: the profiled cell of notebooks/01_quickstart.ipynb (retrieval, a tiny GPT-2's
    generate() on CPU, post-processing in Python), its setup cells run first.
(b) `python_stage`: a pure-Python pipeline stage: JSON parsing and tokenisation-like string work.
(c) `serving`: 32 concurrent streamed requests to the local OpenAI-compatible server
    (`workbench serve --backend synthetic`) through the openai SDK's async client.

Bodies are plain synchronous statements (no top-level await), so every profiler's own cell magic or
context manager can run them unchanged; (c) drives its requests with `bench_run_async`, which runs a
coroutine on a fresh event loop in the calling (main) thread even inside a kernel, whose own loop is
running while a cell executes.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "notebooks" / "01_quickstart.ipynb"

RUN_ASYNC = '''
import asyncio as _asyncio


def bench_run_async(coroutine):
    """Run `coroutine` to completion on a new loop in this thread, even while a kernel's loop runs."""
    running = _asyncio.events._get_running_loop()
    _asyncio.events._set_running_loop(None)
    loop = _asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()
        _asyncio.events._set_running_loop(running)
'''

# On a shared 2-core machine torch's second intra-op thread spins against other load: generate() took
# 5-40 s per cell instead of ~1.5 s. One thread keeps the workload stable enough to compare profilers.
ONE_THREAD = "import torch\ntorch.set_num_threads(1)\n"
# The quickstart cell takes ~0.45 s here; two passes per timed cell bring it to ~1 s, above the noise.
QUICKSTART_PASSES = 2

PYTHON_STAGE_SETUP = """
import json
import re
from collections import Counter

import workbench as wb

_WORDS = [f"tok{i % 911}" + ("ing" if i % 3 else "ed") for i in range(5000)]
RECORDS = [
    json.dumps({"id": i, "title": f"Record {i}",
                "body": " ".join(_WORDS[(i * 37 + j) % 5000] for j in range(120)),
                "meta": {"lang": "en", "score": i / 7, "tags": [f"t{i % 13}", f"t{i % 17}"]}})
    for i in range(5000)
]
_SPLIT = re.compile(r"[a-z]+|[0-9]+|[^\\sa-z0-9]")


def tokenise(text):
    pieces = []
    for word in _SPLIT.findall(text.lower()):
        if len(word) > 5:
            pieces.extend((word[:4], "##" + word[4:]))
        else:
            pieces.append(word)
    return pieces
"""

PYTHON_STAGE_BODY = """
with wb.span("parse", kind="parse"):
    docs = [json.loads(r) for r in RECORDS]
with wb.span("tokenise", kind="chain"):
    counts = Counter()
    for doc in docs:
        counts.update(tokenise(doc["title"] + " " + doc["body"]))
    vocab = {piece: i for i, (piece, _) in enumerate(counts.most_common())}
    encoded = [[vocab[p] for p in tokenise(doc["body"])] for doc in docs]
with wb.span("serialise", kind="parse"):
    out = json.dumps([{"id": d["id"], "ids": ids[:64]} for d, ids in zip(docs, encoded)])
len(out)
"""

SERVER_OPTIONS = {"ttft_ms": 60, "token_delay_ms": 6, "output_tokens": 48}
SERVING_SETUP = f"""
import os

import openai

import workbench as wb
from workbench.serve import start_server

SERVER_OPTIONS = {SERVER_OPTIONS!r}

# A script run under Scalene is given a server started outside it (Scalene follows child processes).
SERVER = None if os.environ.get("BENCH_SERVER_URL") else start_server(**SERVER_OPTIONS)
CLIENT_URL = os.environ.get("BENCH_SERVER_URL") or SERVER.base_url
"""

SERVING_BODY = """
async def _bench_requests(n=32):
    client = openai.AsyncOpenAI(base_url=CLIENT_URL, api_key="local", max_retries=0)

    async def ask(i):
        stream = await client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": f"question {i}"}], max_tokens=48,
            stream=True, stream_options={"include_usage": True})
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    answers = await _asyncio.gather(*(ask(i) for i in range(n)))
    await client.close()
    return answers

answers = bench_run_async(_bench_requests())
len(answers)
"""

SERVING_TEARDOWN = "if SERVER is not None:\n    SERVER.stop()\n"


@dataclass
class Workload:
    key: str
    title: str
    setup: list[str]  # code cells, run once (may hold % magics: `script_code` drops them)
    body: str  # the timed cell, plain synchronous statements
    teardown: list[str] = field(default_factory=list)


def quickstart_parts() -> tuple[list[str], str]:
    """The quickstart notebook's code cells before its profiled cell, and that cell without its magic."""
    notebook = nbformat.read(QUICKSTART, as_version=4)  # type: ignore[no-untyped-call]
    cells = [c.source for c in notebook.cells if c.cell_type == "code"]
    index = next(i for i, source in enumerate(cells) if source.startswith("%%fmprofile"))
    return cells[:index], cells[index].split("\n", 1)[1]


def workloads() -> dict[str, Workload]:
    setup, body = quickstart_parts()
    return {
        "a": Workload(
            "a",
            f"(a) quickstart cell ×{QUICKSTART_PASSES}: retrieval + generate() + parsing",
            [*setup, ONE_THREAD],
            f"for _bench_pass in range({QUICKSTART_PASSES}):\n" + textwrap.indent(body.strip("\n"), "    "),
        ),
        "b": Workload(
            "b", "(b) pure-Python stage: JSON + tokenisation", [PYTHON_STAGE_SETUP], PYTHON_STAGE_BODY
        ),
        "c": Workload(
            "c",
            "(c) 32 concurrent streams, local server",
            [RUN_ASYNC, SERVING_SETUP],
            SERVING_BODY,
            [SERVING_TEARDOWN],
        ),
    }


def script_code(cells: list[str]) -> str:
    """Setup cells as plain Python: IPython magics and shell lines dropped, `wb` imported."""
    lines = ["import workbench as wb"]
    for cell in cells:
        lines += [line for line in cell.splitlines() if not line.lstrip().startswith(("%", "!"))]
    return "\n".join(lines) + "\n"


def as_function(body: str, name: str = "bench_cell") -> str:
    """The body as a function definition (for scripts: its assignments become locals)."""
    return f"def {name}():\n" + textwrap.indent(body.strip("\n"), "    ") + "\n"
