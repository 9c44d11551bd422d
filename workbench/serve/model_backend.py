"""The model backend: a tiny GPT-2 with random, seeded weights, streamed token by token.

Nothing is downloaded: the config is written here, the weights come from torch's seeded initialisation,
and the model goes through `save_pretrained` / `from_pretrained` like a real checkpoint (cached under
`~/.cache/fm-workbench/tiny-gpt2/seed-<seed>` unless `--model-dir` says otherwise). The tokenizer is
`WordTokenizer`. Decoding samples (top-k 50) with a seed drawn from the request's own generator, so a
run replays the same text. `min_new_tokens` holds back end-of-sequence, so a request gets exactly its
token budget: usage then equals the streamed count, which a random model would otherwise make arbitrary.

One `generate()` runs at a time: all run on one worker thread, which serialises them like a lock that
no cancellation can release early (starlette cancels a disconnected stream again at every await).
Concurrent requests queue on the server in arrival order and their TTFT includes the wait, as on a
server without batching; torch already spreads one generate() over the cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.utils import logging as hf_logging

from workbench.serve.backend import GenerationRequest, Piece, RequestError
from workbench.serve.tokenizer import EOS_ID, WordTokenizer

QueueItem = list[int] | BaseException | None


def default_model_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "fm-workbench" / "tiny-gpt2"


def load_tiny_gpt2(directory: Path, seed: int) -> Any:
    # A random model triggers generation-config warnings and a progress bar that say nothing useful here.
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    target = directory / f"seed-{seed}"
    if not (target / "config.json").exists():
        _create(target, seed)
    model: Any = GPT2LMHeadModel.from_pretrained(target)
    model.eval()
    return model


def _create(target: Path, seed: int) -> None:
    torch.manual_seed(seed)
    config = GPT2Config(
        n_layer=4,
        n_head=4,
        n_embd=256,
        vocab_size=4096,
        n_positions=512,
        bos_token_id=EOS_ID,
        eos_token_id=EOS_ID,
        pad_token_id=EOS_ID,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    # Saved beside the target and renamed: a second server starting at the same time never loads a
    # half-written checkpoint.
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    GPT2LMHeadModel(config).save_pretrained(staging)
    try:
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)


class _Cancelled(Exception):
    pass


class QueueStreamer:
    """The `streamer` of `generate()`: called from its worker thread, hands each step to the event loop.

    `generate` first puts the whole prompt (skipped here), then each step's new ids, then calls `end()`.
    Raising from `put` is how a request whose client left stops `generate` at the next step.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[QueueItem]) -> None:
        self._loop = loop
        self._queue = queue
        self._prompt_seen = False
        self.stop = threading.Event()

    def put(self, value: Any) -> None:
        if self.stop.is_set():
            raise _Cancelled
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        self._send([int(token) for token in value.reshape(-1).tolist()])

    def end(self) -> None:
        self._send(None)

    def fail(self, error: BaseException) -> None:
        self._send(error)

    def _send(self, item: QueueItem) -> None:
        # RuntimeError: the loop closed during shutdown, and nobody is listening any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)


class ModelBackend:
    def __init__(self, model: Any, tokenizer: WordTokenizer, model_id: str = "tiny-gpt2") -> None:
        self._model = model
        self._tokenizer = tokenizer
        self._model_id = model_id
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="generate")

    @classmethod
    def load(cls, directory: Path | None, seed: int) -> ModelBackend:
        model = load_tiny_gpt2(directory or default_model_dir(), seed)
        backend = cls(model, WordTokenizer(model.config.vocab_size))
        backend._generate([EOS_ID], 2, seed, None)  # first-call setup here, not in the first request's TTFT
        return backend

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def profiling_executor(self) -> ThreadPoolExecutor:
        """The thread every generate() runs on: torch.profiler records only the thread it started on."""
        return self._worker

    def open_stream(self, request: GenerationRequest) -> AsyncGenerator[Piece, None]:
        n_positions = int(self._model.config.n_positions)
        if request.max_tokens >= n_positions:
            raise RequestError(f"max_tokens must be below {n_positions} for this model", param="max_tokens")
        ids = self._tokenizer.encode(request.prompt)[-(n_positions - request.max_tokens) :] or [EOS_ID]
        return self._pieces(ids, request.max_tokens, request.rng.randrange(2**31))

    async def _pieces(self, ids: list[int], n: int, seed: int) -> AsyncGenerator[Piece, None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[QueueItem] = asyncio.Queue()
        streamer = QueueStreamer(loop, queue)
        loop.run_in_executor(self._worker, self._generate, ids, n, seed, streamer)
        produced = 0
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                text = "".join(self._tokenizer.decode_one(t, produced + i == 0) for i, t in enumerate(item))
                produced += len(item)
                yield Piece(text, len(item))
        finally:
            # The client left or the stream ended: a generate() still queued or running stops at its
            # next step, and the worker thread moves on to the next request.
            streamer.stop.set()

    def _generate(self, ids: list[int], n: int, seed: int, streamer: QueueStreamer | None) -> None:
        try:
            torch.manual_seed(seed)
            inputs = torch.tensor([ids])
            with torch.inference_mode():
                self._model.generate(
                    input_ids=inputs,
                    attention_mask=torch.ones_like(inputs),
                    max_new_tokens=n,
                    min_new_tokens=n,
                    do_sample=True,
                    top_k=50,
                    streamer=streamer,
                    pad_token_id=EOS_ID,
                    eos_token_id=EOS_ID,
                )
        except _Cancelled:
            pass
        except Exception as error:
            if streamer is None:
                raise
            streamer.fail(error)
