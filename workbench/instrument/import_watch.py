"""Install a hook when its library is first imported during a profile (a script run by `workbench profile`,
or a cell that imports `openai` itself); the profiler never imports a user's library on its own."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any


class _NotifyingLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, on_loaded: Callable[[], None]) -> None:
        self._loader = loader
        self._on_loaded = on_loaded

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._on_loaded()

    def __getattr__(self, name: str) -> Any:
        # Resource readers and the like still reach the real loader.
        return getattr(self._loader, name)


class ImportWatcher(importlib.abc.MetaPathFinder):
    """Calls `on_import(name)` after one of `names` has been imported for the first time."""

    def __init__(self, names: Sequence[str], on_import: Callable[[str], None]) -> None:
        self._names = set(names)
        self._on_import = on_import
        self._finding = threading.local()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self._names or getattr(self._finding, "active", False):
            return None
        self._finding.active = True
        try:
            # The other finders locate it; this one only wraps the loader they return.
            spec = next(
                (
                    found
                    for finder in sys.meta_path
                    if finder is not self and hasattr(finder, "find_spec")
                    for found in [finder.find_spec(fullname, path, target)]
                    if found is not None
                ),
                None,
            )
        finally:
            self._finding.active = False
        if spec is None or spec.loader is None:
            return None
        self._names.discard(fullname)
        spec.loader = _NotifyingLoader(spec.loader, lambda: self._on_import(fullname))
        return spec

    def start(self) -> None:
        sys.meta_path.insert(0, self)

    def stop(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
