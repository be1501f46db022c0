"""Small explicit registries: names map to factories (Registry: ``create`` builds one) or to rows of
data (Table: ``lookup`` returns the row itself). An unknown name lists the valid ones in both."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")
V = TypeVar("V")


class _Named(Generic[V]):
    """Entries by name: no name twice, and an unknown name answered with the valid ones."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, V] = {}

    def _add(self, name: str, entry: V) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry

    def _entry(self, name: str) -> V:
        try:
            return self._entries[name]
        except KeyError:
            raise ValueError(f"unknown {self.kind} {name!r}; expected one of: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        """The names, sorted: a registry serves directly as argparse's ``choices``."""
        return iter(self.names())


class Registry(_Named[Callable[..., T]]):
    """Factories by name: ``create`` builds a new object each time."""

    def register(self, name: str, factory: Callable[..., T]) -> None:
        self._add(name, factory)

    def get(self, name: str) -> Callable[..., T]:
        return self._entry(name)

    def create(self, name: str, *args, **kwargs) -> T:
        return self.get(name)(*args, **kwargs)


def _row_name(row: Any) -> str:
    return row.name


class Table(_Named[T]):
    """Named rows of data (conversion targets, browser runtimes): looked up, never constructed."""

    def __init__(self, kind: str, rows: Iterable[T] = (), name: Callable[[T], str] = _row_name) -> None:
        super().__init__(kind)
        for row in rows:
            self._add(name(row), row)

    def lookup(self, name: str) -> T:
        return self._entry(name)
