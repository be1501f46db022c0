"""A text file a person gives us (a CSV, a JSON or YAML configuration), read as editors save it.

UTF-8, with or without the byte-order mark that Windows editors and spreadsheets ("CSV UTF-8") put
first. A file in another encoding (a spreadsheet's plain "CSV" or an editor's "ANSI" on Windows:
cp1252) is refused with the file, the first byte that is not UTF-8, its line, and how to save it,
instead of Python's bare "'utf-8' codec can't decode byte 0xe9 in position 34"."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from pathlib import Path


def read_text(path: str | Path, error: Callable[[str], Exception] = ValueError, save_as: str = "as UTF-8") -> str:
    """The file's text; one that is not UTF-8 is ``error(message)`` ending with "save it {save_as}".
    A file that cannot be opened raises the OSError (callers check existence, naming the option)."""
    path = Path(path)
    data = path.read_bytes().removeprefix(codecs.BOM_UTF8)  # so that the error's offset is the data's
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(
            f"{path} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); save it {save_as}"
        ) from None
