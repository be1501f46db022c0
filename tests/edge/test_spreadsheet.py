"""CSV cells a spreadsheet would run as a formula are neutralised in every CSV of screenings (OWASP,
"CSV Injection": a leading = + - @, tab or carriage return gets a ' prefix), including
facescreen-screen --csv, whose photo paths and error text come from outside."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from types import SimpleNamespace

import pytest

from facescreen.edge.errors import PhotoError
from facescreen.edge.screener import ResultsCsv
from facescreen.edge.spreadsheet import csv_cell

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
