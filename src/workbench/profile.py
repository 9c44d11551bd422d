"""`wb.profile()`: the same machinery as `%%fmprofile`, as a context manager for scripts and tests."""

from __future__ import annotations

import sys
from pathlib import Path
from types import TracebackType

from workbench.model.run import Run
from workbench.options import ProfileOptions
from workbench.session import ProfileSession


class profile:
    """Profile the block; the `Run` it yields is filled in and saved when the block ends.

    Options mirror `%%fmprofile`: `name`, `store`, `rate`, `native`, `gil`, `idle`, `cpu`, `tokens`.
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        store: str | Path | None = None,
        rate: int = 100,
        native: bool = False,
        gil: bool = False,
        idle: bool = False,
        cpu: bool = True,
        tokens: bool = True,
    ) -> None:
        self.options = ProfileOptions(
            name=name,
            store=None if store is None else Path(store),
            rate=rate,
            native=native,
            gil=gil,
            idle=idle,
            cpu=cpu,
            tokens=tokens,
            quiet=True,
        )
        self._session: ProfileSession | None = None

    def __enter__(self) -> Run:
        caller = sys._getframe(1).f_code.co_filename
        self._session = ProfileSession(self.options, anchor_files=frozenset({caller}))
        run = self._session.start()
        self._session.print_notices()
        return run

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._session is not None
        self._session.stop(error=exc)
        self._session.print_notices()
