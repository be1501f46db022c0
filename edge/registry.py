"""Small explicit registries: names map to factories (Registry: ``create`` builds one) or to rows of
data (Table: ``lookup`` returns the row itself). An unknown name lists the valid ones in both."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., T]] = {}

    def register(self, name: str, factory: Callable[..., T]) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = factory

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str) -> Callable[..., T]:
        try:
            return self._entries[name]
        except KeyError:
            raise _unknown(self.kind, name, self.names()) from None

    def create(self, name: str, *args, **kwargs) -> T:
        return self.get(name)(*args, **kwargs)


class Table(Generic[T]):
    """Named rows of data (conversion targets, browser runtimes): looked up, never constructed."""

    def __init__(self, kind: str, rows: Iterable[T] = (), name: Callable[[T], str] = lambda row: row.name) -> None:  # type: ignore[attr-defined]
        self.kind = kind
        self._rows: dict[str, T] = {}
        for row in rows:
            self.add(name(row), row)

    def add(self, name: str, row: T) -> None:
        if name in self._rows:
            raise ValueError(f"{self.kind} {name!r} is already in the table")
        self._rows[name] = row

    def names(self) -> list[str]:
        return sorted(self._rows)

    def __contains__(self, name: object) -> bool:
        return name in self._rows

    def lookup(self, name: str) -> T:
        try:
            return self._rows[name]
        except KeyError:
            raise _unknown(self.kind, name, self.names()) from None


def _unknown(kind: str, name: str, names: list[str]) -> ValueError:
    return ValueError(f"unknown {kind} {name!r}; expected one of: {', '.join(names)}")
