"""Subgroup rows: counts, Wilson and DeLong intervals, the too-small mark, age bands, syndromes."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from facescreen.training.comparisons import wilson_interval
from facescreen.training.subgroups import UNKNOWN, age_band_labels, subgroup_table


def test_age_bands():
    assert age_band_labels([0, 23.9, 24, 71, 200, None], (0, 24, 72, 144)) == [
        "0-24 months",
        "0-24 months",
        "24-72 months",
        "24-72 months",
        ">= 144 months",
        UNKNOWN,
    ]
    with pytest.raises(ValueError, match="increasing"):
        age_band_labels([1], (24, 0))


def test_subgroup_rows_are_the_metrics_of_their_members():
    rng = np.random.default_rng(0)
    n = 200
    y = rng.integers(0, 2, n)
    s = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    flags = (s >= 0.5).astype(int)
    sex = rng.choice(["F", "M"], n).tolist()
    sex[:6] = [""] * 6  # not given for six children
    rows = subgroup_table(y, s, flags, {"sex": sex}, min_per_class=10)
    assert [r.group for r in rows] == ["F", "M", UNKNOWN]
    for r in rows:
        idx = np.array([(v or UNKNOWN) == r.group for v in sex])
        yy, ff = y[idx], flags[idx]
        tp, fn = int(((yy == 1) & (ff == 1)).sum()), int(((yy == 1) & (ff == 0)).sum())
        assert (r.n, r.n_positive, r.n_negative) == (idx.sum(), yy.sum(), (yy == 0).sum())
        assert r.sensitivity == pytest.approx(tp / (tp + fn))
        assert r.sensitivity_ci == pytest.approx(wilson_interval(tp, tp + fn))
    big = rows[0]
    idx = np.array([v == "F" for v in sex])
    assert big.auc == pytest.approx(roc_auc_score(y[idx], s[idx])) and big.auc_ci[0] < big.auc < big.auc_ci[1]
    assert not big.too_small and rows[2].too_small  # six children cannot be judged


def test_a_syndrome_is_compared_with_all_negatives():
    y = np.array([1, 1, 1, 0, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.3, 0.1, 0.2, 0.6, 0.4])
    syn = ["wbs", "wbs", "noonan", "", "", "", ""]
    rows = subgroup_table(y, s, (s >= 0.5).astype(int), {}, syndromes=syn, min_per_class=3)
    by = {r.group: r for r in rows}
    assert set(by) == {"noonan", "wbs"}
    assert (by["wbs"].n_positive, by["wbs"].n_negative, by["wbs"].sensitivity) == (2, 4, 1.0)
    assert by["wbs"].too_small and np.isnan(by["wbs"].specificity)
    assert by["wbs"].auc == pytest.approx(roc_auc_score([1, 1, 0, 0, 0, 0], [0.9, 0.8, 0.1, 0.2, 0.6, 0.4]))


def test_a_small_perfectly_separated_subgroup_is_not_reported_as_certain():
    # 11 syndromic and 7 control children, every one ranked right: DeLong's normal interval said
    # "1.000 (1.000-1.000)"; the row must carry a real interval (Newcombe 2006, pinned in
    # test_training_comparisons) and its counts per class
    y = np.r_[np.ones(11), np.zeros(7)].astype(int)
    s = np.r_[np.linspace(0.6, 0.9, 11), np.linspace(0.1, 0.4, 7)]
    (row,) = subgroup_table(y, s, (s >= 0.5).astype(int), {"site": ["A"] * 18}, min_per_class=5)
    assert row.auc == 1.0 and row.auc_ci[1] == 1.0 and row.auc_ci[0] < 0.9
    assert (row.n_positive, row.n_negative) == (11, 7)


def test_many_subgroups_carry_a_multiple_comparison_warning():
    from facescreen.training.subgroups import multiple_comparison_note

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    s = rng.random(400)
    site = rng.choice(list("ABCDE"), 400).tolist()
    rows = subgroup_table(y, s, (s >= 0.5).astype(int), {"site": site}, min_per_class=10)
    note = multiple_comparison_note([r.to_dict() for r in rows], 0.95)
    assert note and note.startswith("5 subgroups") and "about 0.25 of them" in note and "99.0%" in note
    assert multiple_comparison_note(rows[:1], 0.95) is None
