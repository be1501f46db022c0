"""Readers against the model's ROC band: the papers' test on a constructed case, and the CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facescreen.training.readers import ReaderCalls, ReaderError, compare_readers, load_reader_calls, parse_call
from facescreen.training.roc_band import bootstrap_roc_band

N = 100  # positives and negatives each


@pytest.fixture(scope="module")
def model_band():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(N), np.ones(N)].astype(int)
    s = np.r_[rng.normal(0.0, 1.0, N), rng.normal(1.5, 1.0, N)]  # a model with AUC ~0.85
    return y, bootstrap_roc_band(y, s, n_boot=400, seed=1)


def _reader(name: str, y: np.ndarray, sensitivity: float, specificity: float) -> ReaderCalls:
    calls = np.zeros_like(y)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    calls[pos[: round(sensitivity * len(pos))]] = 1
    calls[neg[round(specificity * len(neg)) :]] = 1
    return ReaderCalls(name, np.arange(len(y)), calls, 0)


def test_reader_points_against_the_band(model_band):
    y, band = model_band
    weak = _reader("weak", y, sensitivity=0.30, specificity=0.80)  # the model reaches ~0.75 there
    expert = _reader("expert", y, sensitivity=0.98, specificity=0.97)  # better than the model anywhere
    typical = _reader("typical", y, sensitivity=0.76, specificity=0.78)  # about on the model's curve
    results = {r.reader_id: r for r in compare_readers([weak, expert, typical], y, band)}
    assert results["weak"].metrics.sensitivity == pytest.approx(0.30)
    assert results["weak"].metrics.specificity == pytest.approx(0.80)
    assert results["weak"].verdict == "below band (model better)" and results["weak"].outside_band
    assert results["expert"].verdict == "above band (reader better)" and results["expert"].outside_band
    assert results["typical"].verdict == "within band (no difference shown)" and not results["typical"].outside_band
    lo, hi = results["weak"].band_lower, results["weak"].band_upper
    assert (lo, hi) == band.band_at(0.80) and lo > 0.30


def test_calls_are_read_in_many_spellings():
    pos, neg = ("wbs", "other"), ("healthy",)
    assert [parse_call(c, pos, neg) for c in ("1", "Yes", "refer", "WBS", "other", "true")] == [1] * 6
    assert [parse_call(c, pos, neg) for c in ("0", "no", "healthy", "control", "FALSE")] == [0] * 5
    with pytest.raises(ReaderError, match="cannot read the call 'maybe'"):
        parse_call("maybe", pos, neg)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_readers_csv_matches_subjects_and_counts_unscored_photos(tmp_path):
    csv = _write(
        tmp_path / "readers.csv",
        "reader_id,subject_id,call\nR1,s1,yes\nR1,s2,no\nR1,s3,syndromic\nR1,s9,yes\nR2,s1,0\nR2,s3,1\n",
    )
    calls = load_reader_calls(
        csv,
        ["s1", "s2", "s3"],
        [tmp_path / f"{s}.jpg" for s in ("s1", "s2", "s3")],
        ("syndromic",),
        ("control",),
        all_subject_ids={"s1", "s2", "s3", "s9"},
    )
    by = {c.reader_id: c for c in calls}
    assert by["R1"].items.tolist() == [0, 1, 2] and by["R1"].calls.tolist() == [1, 0, 1]
    assert by["R1"].n_unmatched == 1  # s9 is in the cohort but the model could not score it
    assert by["R2"].items.tolist() == [0, 2] and by["R2"].calls.tolist() == [0, 1]


def test_readers_csv_by_path(tmp_path):
    csv = _write(tmp_path / "readers.csv", "reader_id,path,call\nR1,photos/a.jpg,1\nR1,photos/b.jpg,0\n")
    paths = [tmp_path / "photos" / "a.jpg", tmp_path / "photos" / "b.jpg"]
    (c,) = load_reader_calls(csv, ["a", "b"], paths, ("syndromic",), ("control",))
    assert c.calls.tolist() == [1, 0]


@pytest.mark.parametrize(
    "text, message",
    [
        ("reader,subject_id,call\nR1,s1,1\n", "expected columns reader_id, call"),
        ("reader_id,subject_id,call\nR1,s1,perhaps\n", "cannot read the call"),
        ("reader_id,subject_id,call\nR1,zz,1\n", "zz is not in the cohort"),
        ("reader_id,subject_id,call\nR1,s1,1\nR1,s1,0\n", "calls s1 twice"),
        ("reader_id,subject_id,call\nR1,s1,1,yes\n", "line 2: 4 cells, but the header names 3"),  # was list.strip()
        ("reader_id,subject_id,call\nR1,s1,1\n\nR1,zz,1\n", "line 4: zz"),  # the blank line counted
    ],
)
def test_readers_csv_errors(tmp_path, text, message):
    csv = _write(tmp_path / "readers.csv", text)
    with pytest.raises(ReaderError, match=message):
        load_reader_calls(csv, ["s1"], [tmp_path / "s1.jpg"], ("syndromic",), ("control",))
