"""Benchmark sections that other packages contribute (the kiosk's guidance, capture and server).

``edge`` is the ground floor and imports nothing above it, yet ``facescreen-bench`` should also
measure what stands on it. So a package above registers a section under the entry-point group
:data:`ENTRY_POINT_GROUP` in its distribution's metadata (pyproject.toml), the way pytest finds
its plugins: the benchmark discovers whatever sections are installed and never names them. An
edge-only install simply has none. A section that cannot be loaded is reported, never fatal.

A section is an object with:

- ``name``: its key in bench.json;
- ``measure(bundle_dir, inputs, settings) -> dict``: a module-level function (it runs in its own
  spawned process, like every target, so its peak memory is its own); ``inputs`` are the paths of
  the benchmark's prepared files (``faces``, ``frames``, ``jpegs``: see runner.prepare_inputs);
- ``format(data) -> list[str]``: lines of the printed report;
- ``rows(data) -> list[dict]``: rows for bench.csv (each gets ``section`` = the name);
- ``plot(ax, data) -> None``: its panel of bench.png (a matplotlib Axes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Protocol

ENTRY_POINT_GROUP = "facescreen.bench_sections"


class BenchSection(Protocol):
    name: str
    measure: Callable[[str, dict, dict], dict]

    def format(self, data: dict) -> list[str]: ...

    def rows(self, data: dict) -> list[dict]: ...

    def plot(self, ax: Any, data: dict) -> None: ...


@dataclass(frozen=True)
class Discovered:
    sections: dict[str, BenchSection]
    errors: dict[str, str]  # entry-point name -> why it could not be loaded


def discover_sections(group: str = ENTRY_POINT_GROUP) -> Discovered:
    sections, errors = {}, {}
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            section = ep.load()
            sections[section.name] = section
        except Exception as exc:  # e.g. the kiosk's extra (fastapi) is not installed
            errors[ep.name] = f"{type(exc).__name__}: {exc}"
    return Discovered(sections, errors)
