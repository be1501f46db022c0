"""The bootstrap ROC band (pROC's ci.se procedure) and reading a ROC at a specificity."""

from __future__ import annotations

import numpy as np
import pytest

from facescreen.training.roc_band import bootstrap_roc_band, sensitivity_at


def test_sensitivity_at_reads_the_polyline():
    fpr = np.array([0.0, 0.0, 0.5, 0.5, 1.0])
    tpr = np.array([0.0, 0.4, 0.6, 0.9, 1.0])
    got = sensitivity_at(fpr, tpr, [1.0, 0.75, 0.5, 0.25, 0.0])
    # specificity 1 -> fpr 0: the top of the vertical step (0.4); fpr 0.25: halfway 0.4 -> 0.6;
    # fpr 0.5: top of that step (0.9); fpr 0.75: halfway 0.9 -> 1.0
    np.testing.assert_allclose(got, [0.4, 0.5, 0.9, 0.95, 1.0])


def test_band_brackets_the_curve_and_is_reproducible():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(60), np.ones(60)].astype(int)
    s = np.r_[rng.normal(0, 1, 60), rng.normal(1.2, 1, 60)]
    a = bootstrap_roc_band(y, s, n_boot=300, seed=5)
    b = bootstrap_roc_band(y, s, n_boot=300, seed=5)
    np.testing.assert_array_equal(a.lower, b.lower)
    assert (a.lower <= a.median + 1e-12).all() and (a.median <= a.upper + 1e-12).all()
    curve = sensitivity_at(a.fpr, a.tpr, a.specificities)
    inside = (curve >= a.lower - 1e-9) & (curve <= a.upper + 1e-9)
    assert inside.mean() > 0.95
    assert a.auc_ci[0] < a.auc < a.auc_ci[1]
    # the width agrees with Hanley & McNeil's (1982) standard error of the AUC
    q1, q2 = a.auc / (2 - a.auc), 2 * a.auc**2 / (1 + a.auc)
    se = np.sqrt((a.auc * (1 - a.auc) + 59 * (q1 - a.auc**2) + 59 * (q2 - a.auc**2)) / (60 * 60))
    assert 0.7 < (a.auc_ci[1] - a.auc_ci[0]) / (2 * 1.96 * se) < 1.3
    lo, hi = a.band_at(0.8)
    assert lo == pytest.approx(np.interp(0.8, a.specificities[::-1], a.lower[::-1]), abs=0.02)
    assert hi == pytest.approx(np.interp(0.8, a.specificities[::-1], a.upper[::-1]), abs=0.02)


def test_resamples_are_stratified():
    y = np.r_[np.zeros(5), np.ones(50)].astype(int)  # rare negatives: unstratified resamples would lose them
    s = np.linspace(0, 1, 55)
    band = bootstrap_roc_band(y, s, n_boot=200)
    assert band.n_positive == 50 and band.n_negative == 5 and np.isfinite(band.lower).all()


def test_too_few_resamples_is_refused():
    with pytest.raises(ValueError, match="at least 200"):
        bootstrap_roc_band([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8], n_boot=100)


# A worked 10 vs 10 example with a vertical step at specificity 0.90: two positives score above every
# negative, then one negative, then six positives, then the other nine negatives mixed with the last
# two positives. At 1 - 0.90 the curve runs from sensitivity 0.2 up to 0.8.
STEP_Y = np.array([1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0])
STEP_S = np.linspace(1.0, 0.05, 20)


def test_a_vertical_step_is_read_at_its_top_as_scikit_learn_and_proc_do():
    from sklearn.metrics import roc_curve

    from facescreen.training.metrics import roc_curve_points

    fpr, tpr, _ = roc_curve_points(STEP_Y, STEP_S)
    # the reference: scikit-learn's ROC points, the best sensitivity among those with fpr <= 1 - 0.90
    # (pROC's coords(input = "specificity") and ci.se read the same highest sensitivity on a step)
    sk_fpr, sk_tpr, _ = roc_curve(STEP_Y, STEP_S, drop_intermediate=False)
    for spec in (0.9, 0.7, 0.6):
        want = sk_tpr[sk_fpr <= 1 - spec + 1e-12].max()
        assert sensitivity_at(fpr, tpr, spec)[0] == pytest.approx(want)
    assert sensitivity_at(fpr, tpr, 0.9)[0] == pytest.approx(0.8)  # not the step's bottom, 0.2


def test_children_with_several_photos_are_resampled_as_children():
    """Four photos per child carry the information of one: the cluster bootstrap of 4 copies of each
    child's score gives exactly the child-level interval (the same children drawn, an AUC unchanged
    by copying), while resampling photos makes it about half as wide."""
    rng = np.random.default_rng(7)
    y = np.r_[np.zeros(30), np.ones(30)].astype(int)
    s = np.r_[rng.normal(0, 1, 30), rng.normal(1.0, 1, 30)]
    kids = np.arange(60).astype(str)
    child = bootstrap_roc_band(y, s, n_boot=300, seed=2, clusters=kids)
    four = bootstrap_roc_band(np.repeat(y, 4), np.repeat(s, 4), n_boot=300, seed=2, clusters=np.repeat(kids, 4))
    assert four.resampled == "children" and child.resampled == "photos"
    assert four.auc_ci == pytest.approx(child.auc_ci) and four.auc == pytest.approx(child.auc)
    np.testing.assert_allclose(four.lower, child.lower)
    photos = bootstrap_roc_band(np.repeat(y, 4), np.repeat(s, 4), n_boot=300, seed=2)
    width = lambda b: b.auc_ci[1] - b.auc_ci[0]  # noqa: E731
    assert width(photos) < 0.65 * width(four)
    with pytest.raises(ValueError, match="both classes"):
        bootstrap_roc_band([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8], n_boot=200, clusters=["a", "a", "b", "c"])
