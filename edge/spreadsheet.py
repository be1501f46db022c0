"""CSV files a clinician may open in a spreadsheet: a text cell that starts like a formula is written
with a leading ``'``, so the spreadsheet shows it instead of running it (OWASP, "CSV Injection": a
leading ``= + - @``, tab or carriage return). Every CSV of screenings goes through here: the kiosk
store's export and ``facescreen-screen --csv`` (whose photo paths and error text come from outside)."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from typing import Any, TextIO

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """``value`` as a spreadsheet may safely show it: text (or a path) that would run as a formula
    gets a leading ``'``; numbers and other values pass unchanged."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class SafeCsvWriter:
    """``csv.writer`` whose rows pass through :func:`csv_cell`."""

    def __init__(self, f: TextIO) -> None:
        self._w = csv.writer(f)

    def writerow(self, row: Iterable[Any]) -> None:
        self._w.writerow([csv_cell(v) for v in row])
