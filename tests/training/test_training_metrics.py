"""The metric code, pinned against scikit-learn on fixed numbers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from facescreen.training.metrics import (
    binary_metrics,
    mean_sd,
    metrics_from_calls,
    multiclass_metrics,
    roc_curve_points,
    summarise_folds,
)

Y = np.array([0, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1])
S = np.array([0.10, 0.40, 0.35, 0.80, 0.20, 0.90, 0.55, 0.55, 0.70, 0.65, 0.30, 0.95])  # with a tie at 0.55


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.55, 0.6, 0.96])
def test_binary_metrics_match_sklearn(threshold):
    m = binary_metrics(Y, S, threshold)
    pred = (S >= threshold).astype(int)
    assert m.accuracy == pytest.approx(skm.accuracy_score(Y, pred))
    assert m.sensitivity == pytest.approx(skm.recall_score(Y, pred, zero_division=0))
    assert m.specificity == pytest.approx(skm.recall_score(Y, pred, pos_label=0, zero_division=0))
    assert m.precision == pytest.approx(skm.precision_score(Y, pred, zero_division=0))
    assert m.f1 == pytest.approx(skm.f1_score(Y, pred, zero_division=0))
    assert m.auc == pytest.approx(skm.roc_auc_score(Y, S))
    tn, fp, fn, tp = skm.confusion_matrix(Y, pred, labels=[0, 1]).ravel()
    assert (m.tp, m.fp, m.tn, m.fn, m.n) == (tp, fp, tn, fn, len(Y))


def test_worked_example_by_hand():
    # threshold 0.5 flags 0.80 0.90 0.55 0.55 0.70 0.65 0.95: tp 5 (0.80 0.90 0.55 0.70 0.95), fp 2 (0.55 0.65)
    m = binary_metrics(Y, S, 0.5)
    assert (m.tp, m.fp, m.tn, m.fn) == (5, 2, 3, 2)
    assert m.sensitivity == pytest.approx(5 / 7) and m.specificity == pytest.approx(3 / 5)
    assert m.precision == pytest.approx(5 / 7) and m.accuracy == pytest.approx(8 / 12)


@pytest.mark.parametrize("seed", range(5))
def test_roc_matches_sklearn_with_ties(seed):
    """(The AUC itself is edge.metrics.roc_auc, pinned in tests/edge/test_metrics.py.)"""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 80)
    s = np.round(rng.random(80) + 0.4 * y, 1)  # coarse scores: many ties
    fpr, tpr, thr = roc_curve_points(y, s)
    f2, t2, th2 = skm.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, f2)
    np.testing.assert_allclose(tpr, t2)
    np.testing.assert_allclose(thr[1:], th2[1:])


def test_auc_undefined_with_one_class_and_zero_division():
    assert np.isnan(binary_metrics([1, 1, 1], [0.2, 0.3, 0.4], 0.5).auc)
    m = metrics_from_calls(np.array([0, 0, 1]), np.array([0, 0, 0]))
    assert m.precision == 0.0 and m.f1 == 0.0 and m.sensitivity == 0.0 and m.specificity == 1.0
    with pytest.raises(ValueError, match="0/1 labels"):
        binary_metrics([0, 2, 1], [0.1, 0.2, 0.3], 0.5)


def test_mean_and_sample_sd():
    mean, sd = mean_sd([0.8, 0.9, 1.0, float("nan")])
    assert mean == pytest.approx(0.9) and sd == pytest.approx(np.std([0.8, 0.9, 1.0], ddof=1))
    folds = [binary_metrics(Y, S + d, 0.5) for d in (0.0, 0.05, -0.05)]
    summary = summarise_folds(folds)
    assert summary["auc"]["mean"] == pytest.approx(np.mean([f.auc for f in folds]))
    assert summary["accuracy"]["sd"] == pytest.approx(np.std([f.accuracy for f in folds], ddof=1))


def test_multiclass_per_class_and_top_k_match_sklearn():
    rng = np.random.default_rng(3)
    y = np.array([0, 1, 2] * 10)
    logits = rng.normal(size=(30, 3)) + 1.5 * np.eye(3)[y]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    out = multiclass_metrics(y, probs, ("healthy", "wbs", "other"), top_k=(1, 2))
    pred = probs.argmax(1)
    prec, rec, f1, _ = skm.precision_recall_fscore_support(y, pred, labels=[0, 1, 2], zero_division=0)
    for k, name in enumerate(("healthy", "wbs", "other")):
        c = out["per_class"][name]
        assert c["precision"] == pytest.approx(prec[k]) and c["recall"] == pytest.approx(rec[k])
        assert c["f1"] == pytest.approx(f1[k])
        assert c["auc"] == pytest.approx(skm.roc_auc_score(y == k, probs[:, k]))
    assert out["top1_accuracy"] == pytest.approx(skm.top_k_accuracy_score(y, probs, k=1))
    assert out["top2_accuracy"] == pytest.approx(skm.top_k_accuracy_score(y, probs, k=2))


def test_fold_mean_interval_is_student_t_as_scipy_gives_it():
    from scipy import stats

    from facescreen.training.metrics import mean_ci

    aucs = [0.91, 0.95, 0.88, 0.97, 0.93]
    want = stats.t.interval(0.95, 4, loc=np.mean(aucs), scale=stats.sem(aucs))
    assert mean_ci(aucs) == pytest.approx(want)
    assert mean_ci(aucs, 0.9) == pytest.approx(stats.t.interval(0.9, 4, loc=np.mean(aucs), scale=stats.sem(aucs)))
    assert all(np.isnan(mean_ci([0.9])))


def test_predictive_values_at_a_prevalence_altman_bland_liver_scan():
    """Altman & Bland (BMJ 1994;309:102, liver scan of Drum & Christacopoulos): 231 TP, 32 FP, 27 FN,
    54 TN; at the study's prevalence 258/344 PPV is 231/263 = 0.878 and NPV 54/81 = 0.667."""
    from facescreen.training.metrics import predictive_values

    ppv, npv = predictive_values(231 / 258, 54 / 86, 258 / 344)
    assert (ppv, npv) == pytest.approx((231 / 263, 54 / 81))
    # the same test in a population where one in a hundred has the condition
    ppv, npv = predictive_values(231 / 258, 54 / 86, 0.01)
    assert ppv == pytest.approx(0.00895 / (0.00895 + 0.3683), rel=1e-3) and npv > 0.998
    with pytest.raises(ValueError, match="prevalence"):
        predictive_values(0.9, 0.9, 0.0)
