"""Data in: a class-folder tree or a CSV manifest; one photo per subject unless grouping is asked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from facescreen.training.data.manifest import ManifestError, cohort_summary, load_cohort, split_classes


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xd8 not really decoded here")
    return path


def _manifest(
    tmp_path: Path, rows: list[str], header: str = "path,subject_id,label,syndrome,age_months,sex,fold"
) -> Path:
    for r in rows:
        _touch(tmp_path / r.split(",")[0])
    p = tmp_path / "cohort.csv"
    p.write_text(header + "\n" + "\n".join(rows) + "\n")
    return p


def test_folder_of_class_folders(tmp_path):
    for label, n in (("control", 3), ("syndromic", 2)):
        for i in range(n):
            _touch(tmp_path / "photos" / label / f"{i}.JPG")
    _touch(tmp_path / "photos" / "control" / "notes.txt")
    cohort = load_cohort(tmp_path / "photos")
    assert [p.label for p in cohort.photos].count("control") == 3 and len(cohort.photos) == 5
    assert cohort.n_subjects == 5 and cohort.labels == ["control", "syndromic"]


def test_csv_manifest_with_optional_columns(tmp_path):
    p = _manifest(tmp_path, ["a.jpg,s1,healthy,,30,F,1", "b.jpg,s2,wbs,wbs,41,M,2", "c.jpg,s3,other,noonan,,M,3"])
    cohort = load_cohort(p)
    b = cohort.photos[1]
    assert b.path == (tmp_path / "b.jpg").resolve() and b.syndrome == "wbs" and b.age_months == 41.0
    assert b.fold == 1  # the CSV's fold 2 is the 0-based part 1
    assert split_classes(cohort.labels) == (("healthy", "other", "wbs"), ("other", "wbs"))
    text = cohort_summary(cohort)
    assert "3 photos of 3 subjects" in text and "wbs" in text and "sex: F 1, M 2" in text


def test_duplicate_subjects_are_refused_unless_grouped(tmp_path):
    p = _manifest(tmp_path, ["a.jpg,s1,control,,,,", "b.jpg,s1,control,,,,", "c.jpg,s2,syndromic,,,,"])
    with pytest.raises(ManifestError, match="one photo per child.*--group-by-subject"):
        load_cohort(p)
    cohort = load_cohort(p, group_by_subject=True)
    assert cohort.n_subjects == 2 and len(cohort.photos) == 3 and cohort.grouped_by_subject


@pytest.mark.parametrize(
    "rows, header, message",
    [
        (["a.jpg,s1,control"], "path,label", "missing column\\(s\\) subject_id"),
        (["a.jpg,s1,control,,,,9"], None, "fold must be an integer 1..5"),
        (["a.jpg,s1,control,,abc,,"], None, "age_months must be a number"),
        (["a.jpg,,control,,,,"], None, "subject_id is empty"),
        (["a.jpg,s1,control,,,,", "b.jpg,s2,control,,,,"], None, "screening needs at least two classes"),
        (["a.jpg,s1,control,,,,1", "b.jpg,s2,syndromic,,,,"], None, "fold column is filled for some rows only"),
    ],
)
def test_manifest_errors(tmp_path, rows, header, message):
    p = _manifest(tmp_path, rows, header) if header else _manifest(tmp_path, rows)
    with pytest.raises(ManifestError, match=message):
        load_cohort(p)


def test_a_manifest_saved_by_a_spreadsheet_is_read_and_one_in_another_encoding_is_refused(tmp_path):
    p = _manifest(tmp_path, ["a.jpg,s1,control,,,,", "b.jpg,s2,syndromic,,,,"])
    rows = p.read_text().splitlines()
    # Excel's "CSV UTF-8": a byte-order mark, CRLF, a trailing comma; a blank line before the last row
    p.write_bytes(b"\xef\xbb\xbf" + "\r\n".join([rows[0] + ",", rows[1] + ",", "", rows[2] + ","]).encode())
    assert [q.label for q in load_cohort(p).photos] == ["control", "syndromic"]
    p.write_bytes(p.read_bytes().replace(b"syndromic,,,,", b"syndromic,,abc,,"))
    with pytest.raises(ManifestError, match="line 4: age_months"):  # the blank line counted
        load_cohort(p)
    p.write_bytes(p.read_bytes().replace(b"syndromic", "syndromique \u00e9".encode("latin-1")))
    with pytest.raises(ManifestError, match=r"not UTF-8 text \(byte 0xe9 on line 4\).*CSV UTF-8"):
        load_cohort(p)


def test_missing_photo_and_photos_of_one_subject_that_disagree(tmp_path):
    p = _manifest(tmp_path, ["a.jpg,s1,control,,,,", "b.jpg,s2,syndromic,,,,"])
    (tmp_path / "b.jpg").unlink()
    with pytest.raises(ManifestError, match="b.jpg does not exist"):
        load_cohort(p)
    p = _manifest(tmp_path, ["a.jpg,s1,control,,,,", "b.jpg,s1,syndromic,,,,", "c.jpg,s2,control,,,,"])
    with pytest.raises(ManifestError, match="s1: photos disagree on label"):
        load_cohort(p, group_by_subject=True)


def test_negative_class_must_be_named_when_it_cannot_be_told():
    assert split_classes(["control", "syndromic"]) == (("control", "syndromic"), ("syndromic",))
    with pytest.raises(ManifestError, match="--negative-class"):
        split_classes(["typical", "wbs"])
    assert split_classes(["typical", "wbs"], ("typical",)) == (("typical", "wbs"), ("wbs",))
    with pytest.raises(ManifestError, match="not among the labels"):
        split_classes(["control", "wbs"], ("healthy",))
