"""A small pool of inference engines behind the interface of one.

Each engine is a full copy of the models (screener, detector, dense landmarks) with its own lock; a
call borrows whichever engine is free, so with ``--engines 2`` two photos are analysed at once on a
machine with the cores for it. The cost is memory: one more copy of every model per engine (the
README gives the measured figure). With one engine this is not used at all."""

from __future__ import annotations

import inspect
import queue
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..engine import KioskEngine


class EnginePool:
    def __init__(self, engines: Sequence[KioskEngine]) -> None:
        if not engines:
            raise ValueError("an engine pool needs at least one engine")
        self.engines = list(engines)
        self._free: queue.SimpleQueue[KioskEngine] = queue.SimpleQueue()
        for e in self.engines:
            self._free.put(e)

    def __len__(self) -> int:
        return len(self.engines)

    @contextmanager
    def borrow(self) -> Iterator[KioskEngine]:
        engine = self._free.get()
        try:
            yield engine
        finally:
            self._free.put(engine)

    def __getattr__(self, name: str) -> Any:
        """Methods run on a borrowed engine; plain attributes (model card, limits) come from the first,
        which every engine shares."""
        attr = getattr(self.engines[0], name)
        if not inspect.ismethod(attr):
            return attr

        def pooled(*args: Any, **kwargs: Any) -> Any:
            with self.borrow() as engine:
                method: Callable[..., Any] = getattr(engine, name)
                return method(*args, **kwargs)

        return pooled
