"""A text file a person gives us: read as editors save it, or refused saying where and how to save it."""

from __future__ import annotations

import codecs

import pytest

from facescreen.edge.textfile import read_text


class Mistake(Exception):
    pass


def test_utf8_with_or_without_the_byte_order_mark_reads_alike(tmp_path):
    f = tmp_path / "a.yaml"
    f.write_bytes(codecs.BOM_UTF8 + "név: é\n".encode())
    assert read_text(f) == "név: é\n"
    f.write_bytes("név: é\n".encode())
    assert read_text(f) == "név: é\n"


def test_another_encoding_names_the_file_the_byte_and_its_line(tmp_path):
    f = tmp_path / "a.csv"
    f.write_bytes(codecs.BOM_UTF8 + "path,label\nx.jpg,0\ncaf\xe9.jpg,1\n".encode("cp1252"))
    with pytest.raises(Mistake, match=r"a\.csv is not UTF-8 text \(byte 0xe9 on line 3\); save it in a way$"):
        read_text(f, Mistake, save_as="in a way")
    with pytest.raises(FileNotFoundError):  # the caller names the option that gave the path
        read_text(tmp_path / "missing.csv")
