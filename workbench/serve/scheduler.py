"""The server's scheduler: a fixed number of running slots and a simulated paged KV cache, as in vLLM.

A request waits (vLLM's WAITING) until a slot is free (`max_num_seqs`) and the cache has blocks for its
prompt; it then runs (RUNNING) and takes one more block each time its sequence crosses a block boundary.
When the cache is full, the newest running request is preempted: its blocks are freed, it goes back to
the head of the queue and its stream stalls until it is scheduled again (recomputed, as vLLM's V1 does).
The counts are the real state of this server, which its `/metrics` reports with vLLM's names.

`scheduled` is when a request got its slot: at its arrival when one was free, so that a burst of
requests that all fit is not dated by the order the event loop handed them over (see `ArrivalStamp`).
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from dataclasses import dataclass, field

BLOCK_SIZE = 16  # tokens per KV-cache block (vLLM's default on GPUs)


@dataclass(eq=False)
class Ticket:
    """One request's place in the scheduler, and the times its per-request metrics come from."""

    arrival: float
    prompt_tokens: int
    blocks: int = 0
    generated: int = 0
    scheduled: float | None = None
    first_token: float | None = None
    last_token: float | None = None
    preempted: bool = False
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.generated


class Scheduler:
    def __init__(self, max_num_seqs: int, kv_cache_tokens: int, block_size: int = BLOCK_SIZE) -> None:
        if max_num_seqs < 1 or kv_cache_tokens < block_size:
            raise ValueError("max_num_seqs must be >= 1 and the KV cache must hold at least one block")
        self.max_num_seqs = max_num_seqs
        self.block_size = block_size
        self.total_blocks = kv_cache_tokens // block_size
        self.waiting: deque[Ticket] = deque()
        self.running: list[Ticket] = []
        self.used_blocks = 0
        self.preemptions = 0

    @property
    def kv_usage(self) -> float:
        """Share of KV-cache blocks in use (vLLM's `kv_cache_usage_perc`, 0-1)."""
        return self.used_blocks / self.total_blocks

    def blocks_for(self, tokens: int) -> int:
        return max(1, math.ceil(tokens / self.block_size))

    async def admit(self, ticket: Ticket) -> None:
        """Wait until `ticket` runs; a request that finds a free slot is scheduled at its arrival."""
        self.waiting.append(ticket)
        self._schedule(ticket.arrival)
        await ticket.ready.wait()

    async def grow(self, ticket: Ticket, n_tokens: int) -> None:
        """`ticket` produced `n_tokens` more: take the blocks they need, preempting if the cache is full;
        returns once `ticket` is running again (at once unless it was preempted)."""
        while ticket.preempted:
            await ticket.ready.wait()
        ticket.generated += n_tokens
        need = self.blocks_for(ticket.tokens)
        while ticket.blocks < need:
            if self.used_blocks < self.total_blocks:
                ticket.blocks += 1
                self.used_blocks += 1
                continue
            victim = self.running[-1]
            self._preempt(victim)
            if victim is ticket:
                self._schedule(_now())
                await ticket.ready.wait()
                need = self.blocks_for(ticket.tokens)

    def release(self, ticket: Ticket) -> None:
        """The request ended (finished, failed, or its client left): free its slot and blocks."""
        if ticket in self.running:
            self.running.remove(ticket)
        if ticket in self.waiting:
            self.waiting.remove(ticket)
        self.used_blocks -= ticket.blocks
        ticket.blocks = 0
        self._schedule(_now())

    def _preempt(self, ticket: Ticket) -> None:
        self.running.remove(ticket)
        self.used_blocks -= ticket.blocks
        ticket.blocks = 0
        ticket.preempted = True
        ticket.ready.clear()
        self.waiting.appendleft(ticket)
        self.preemptions += 1

    def _schedule(self, now: float) -> None:
        while self.waiting and len(self.running) < self.max_num_seqs:
            head = self.waiting[0]
            need = self.blocks_for(head.tokens + 1)
            if self.used_blocks + need > self.total_blocks:
                return
            self.waiting.popleft()
            head.blocks = need
            self.used_blocks += need
            self.running.append(head)
            if head.scheduled is None:
                head.scheduled = max(head.arrival, now)
            head.preempted = False
            head.ready.set()


def _now() -> float:
    return asyncio.get_running_loop().time()
