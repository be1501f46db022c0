"""CSV cells a spreadsheet would run as a formula are neutralised in every CSV of screenings (OWASP,
"CSV Injection": a leading = + - @, tab or carriage return gets a ' prefix), including
facescreen-screen --csv, whose photo paths and error text come from outside. And a CSV a person
gives us is read as a spreadsheet saves it, or refused with the file, the line and what to do."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from types import SimpleNamespace

import pytest

from facescreen.edge.errors import PhotoError
from facescreen.edge.screener import ResultsCsv
from facescreen.edge.spreadsheet import csv_cell, read_table

HOSTILE = ['=HYPERLINK("http://x","click")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_formula_cell_gets_a_quote(value):
    assert csv_cell(value) == "'" + value
    assert csv_cell(Path(value)) == "'" + str(Path(value))  # a path is text too


@pytest.mark.parametrize("value", ["photo.jpg", "/data/a=b.jpg", "", -0.5, 3, None])
def test_other_cells_pass_unchanged(value):
    assert csv_cell(value) == value  # numbers stay numbers, even negative ones


def test_the_screen_commands_csv_neutralises_paths_and_error_text():
    screener = SimpleNamespace(
        card=SimpleNamespace(model_id="m", version="1", classes=["control", "syndromic"]), backend_label="keras:keras"
    )
    buf = io.StringIO()
    rows = ResultsCsv(buf, screener)
    rows.failed(Path('=HYPERLINK("x","y").jpg'), PhotoError("@SUM(A1) is not an image"))
    row = next(csv.DictReader(io.StringIO(buf.getvalue())))
    assert row["path"] == '\'=HYPERLINK("x","y").jpg'
    assert row["error"] == "'@SUM(A1) is not an image"
    assert row["status"] == "bad_image" and row["model_id"] == "m"


def test_a_table_is_read_as_a_spreadsheet_saves_it(tmp_path):
    """Excel's "CSV UTF-8": a byte-order mark, CRLF, a trailing comma on each row, empty rows under
    the table; and a quoted cell with a comma and a line break, which moves the line numbers."""
    f = tmp_path / "t.csv"
    text = 'path , label,\r\na.jpg, contrôle ,\r\n\r\n"b, 2.jpg","two\r\nlines",\r\nc.jpg\r\n,,\r\n'
    f.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    table = read_table(f, ("path", "label"))
    assert table.columns == ("path", "label", "")
    assert table.rows == (
        (2, {"path": "a.jpg", "label": "contrôle"}),
        (5, {"path": "b, 2.jpg", "label": "two\r\nlines"}),
        (6, {"path": "c.jpg", "label": ""}),  # a short row's missing cells are empty
    )


class SheetError(Exception):
    pass


@pytest.mark.parametrize(
    "data, message",
    [
        (b"path,label\na.jpg,x\nb.jpg,contr\xf4le\n", r"not UTF-8 text \(byte 0xf4 on line 3\).*CSV UTF-8"),
        (b"file,label\na.jpg,x\n", r"missing column\(s\) path; it needs path, and has file, label"),
        (b"path,label\na.jpg,x\nb.jpg,y,z\n", r"line 3: 3 cells, but the header names 2 columns.*quoted"),
        (b"path\n" + b"a" * 200_000 + b"\n", r"line 2: not CSV \(field larger than field limit"),
    ],
    ids=["latin-1", "missing-column", "longer-row", "huge-cell"],
)
def test_a_table_that_cannot_be_read_is_refused_with_the_line_and_what_to_do(tmp_path, data, message):
    f = tmp_path / "t.csv"
    f.write_bytes(data)
    with pytest.raises(SheetError, match=message) as info:
        read_table(f, ("path",), SheetError)
    assert str(info.value).startswith(str(f))
