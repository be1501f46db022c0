"""Registry builds (create calls the factory each time); Table looks up (the row itself, no call).
Both refuse a duplicate name and answer an unknown one with the valid names."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from facescreen.edge.registry import Registry, Table


@dataclass(frozen=True)
class Row:
    name: str
    value: int


def test_a_table_returns_its_rows_and_names_the_valid_ones():
    rows = (Row("b", 2), Row("a", 1))
    table = Table("thing", rows)
    assert table.names() == ["a", "b"] and "a" in table and "c" not in table
    assert table.lookup("b") is rows[0]
    with pytest.raises(ValueError, match="unknown thing 'c'; expected one of: a, b"):
        table.lookup("c")
    with pytest.raises(ValueError, match="already registered"):
        Table("thing", (Row("a", 1), Row("a", 2)))


def test_a_registry_builds_a_new_object_each_time():
    registry: Registry[list] = Registry("list")
    registry.register("empty", list)
    assert registry.create("empty") == [] and registry.create("empty") is not registry.create("empty")
    with pytest.raises(ValueError, match="unknown list 'full'; expected one of: empty"):
        registry.create("full")
    with pytest.raises(ValueError, match="already registered"):
        registry.register("empty", list)
