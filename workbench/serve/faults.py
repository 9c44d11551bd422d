"""Which requests fail, and how: from the `x-workbench-fail` header, else from the configured rates.

`x-workbench-fail: 500` (or any status 400-599) answers with that HTTP status and an OpenAI error
body; `x-workbench-fail: drop` closes a streamed response's connection after about half its tokens,
without the terminating chunk. The header makes a test exact; the rates make a demo realistic.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from workbench.serve.backend import RequestError
from workbench.serve.config import Faults

FAIL_HEADER = "x-workbench-fail"


class DroppedOnPurpose(Exception):
    """Raised mid-stream so that uvicorn closes the connection without finishing the chunked body."""


@dataclass(frozen=True)
class FaultPlan:
    status: int | None = None
    drop: bool = False

    def drop_after(self, max_tokens: int) -> int | None:
        """After how many streamed tokens the connection drops; None when it does not."""
        return max_tokens // 2 if self.drop else None


def plan_faults(headers: Mapping[str, str], faults: Faults, rng: random.Random, stream: bool) -> FaultPlan:
    # Both draws happen on every request so that the rest of the request's draws (jitter) do not
    # depend on whether a fault was configured.
    fails = rng.random() < faults.error_rate
    drops = rng.random() < faults.drop_rate
    asked = headers.get(FAIL_HEADER)
    if asked is not None:
        return _from_header(asked.strip().lower(), stream)
    if fails:
        return FaultPlan(status=500)
    return FaultPlan(drop=drops and stream)


def _from_header(value: str, stream: bool) -> FaultPlan:
    if value == "drop":
        if not stream:
            raise RequestError(f"{FAIL_HEADER}: drop needs a streamed request", param=FAIL_HEADER)
        return FaultPlan(drop=True)
    if value.isdigit() and 400 <= int(value) <= 599:
        return FaultPlan(status=int(value))
    raise RequestError(
        f"{FAIL_HEADER} must be 'drop' or an HTTP status 400-599, got {value!r}", param=FAIL_HEADER
    )
