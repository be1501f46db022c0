"""CSV files a clinician may open in a spreadsheet, both ways.

Written: a text cell that starts like a formula is written with a leading ``'``, so the spreadsheet
shows it instead of running it (OWASP, "CSV Injection": a leading ``= + - @``, tab or carriage
return). Every CSV of screenings goes through here: the kiosk store's export and
``facescreen-screen --csv`` (whose photo paths and error text come from outside).

Read: every CSV a person gives us (a training manifest, readers' calls, referral outcomes, the
cohort.csv of a calibration or parity folder) is read by :func:`read_table`, so each takes what a
spreadsheet saves ("CSV UTF-8" starts with a byte-order mark), and each says the same clear thing
about a file that is not UTF-8 (a spreadsheet's plain "CSV" on Windows), a missing column or a row
longer than its header, with the file and the line."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .textfile import read_text

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


@dataclass(frozen=True)
class CsvTable:
    """A CSV's header and rows, names and cells stripped of surrounding spaces; ``rows`` pairs each
    row with the line of the file it ends on (blank lines and quoted line breaks counted)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[int, dict[str, str]], ...]


def read_table(
    path: str | Path,
    required: Sequence[str] = (),
    error: Callable[[str], Exception] = ValueError,
) -> CsvTable:
    """The CSV at ``path``; a file that cannot be read as one is ``error(message)``, the message naming
    the file, the line and what to do. ``required``: columns it must have. A short row's missing
    cells read as empty; cells past the header are allowed only when empty (a trailing comma)."""
    path = Path(path)
    text = read_text(path, error, save_as='from the spreadsheet as "CSV UTF-8"')
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [c.strip() for c in next(reader, [])]
        missing = [c for c in required if c not in header]
        if missing:
            raise error(
                f"{path}: missing column(s) {', '.join(missing)}; it needs {', '.join(required)}, "
                f"and has {', '.join(c for c in header if c) or 'no header'}"
            )
        rows = []
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue  # a blank line, or a row of empty cells as spreadsheets leave below a table
            if any(c.strip() for c in cells[len(header) :]):
                raise error(
                    f"{path}, line {reader.line_num}: {len(cells)} cells, but the header names {len(header)} "
                    "columns (a cell holding a comma must be quoted)"
                )
            row = {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(header) if name}
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise error(f"{path}, line {reader.line_num}: not CSV ({exc})") from None
    return CsvTable(tuple(header), tuple(rows))
