"""Threshold rules: Youden's J placed between samples, ties toward sensitivity, fixed values."""

from __future__ import annotations

import numpy as np
import pytest

from facescreen.training.thresholds import ThresholdConfig, select_threshold, widest_gap_threshold, youden_threshold


def test_youden_sits_midway_between_the_separating_scores():
    y = np.array([0, 0, 0, 1, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.9])
    choice = select_threshold(ThresholdConfig("youden"), y, s)
    assert choice.value == pytest.approx(0.45)  # between 0.3 (last negative) and 0.6 (first positive)
    assert choice.validation_sensitivity == 1.0 and choice.validation_specificity == 1.0
    assert choice.n_validation == 6


def test_youden_maximises_j_and_is_never_a_sample_score():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 60)
    s = np.clip(rng.normal(0.4 + 0.2 * y, 0.15), 0.001, 0.999)
    t = youden_threshold(y, s, ThresholdConfig())
    assert t not in set(s.tolist())
    j = lambda thr: ((s >= thr) & (y == 1)).sum() / y.sum() + ((s < thr) & (y == 0)).sum() / (1 - y).sum() - 1  # noqa: E731
    assert j(t) == pytest.approx(max(j(v) for v in np.unique(s)))


def test_ties_in_j_go_to_the_lower_threshold():
    # flagging from 0.5 or from 0.3 both give J = 0.5; the screen prefers sensitivity
    y = np.array([0, 1, 0, 1])
    s = np.array([0.1, 0.3, 0.4, 0.5])
    # candidate cuts: 0.05 (J 0), 0.2 (J 0.5), 0.35 (J 0), 0.45 (J 0.5), 0.75 (J 0)
    assert youden_threshold(y, s, ThresholdConfig()) == pytest.approx(0.2)


def test_fixed_rule_and_bad_inputs():
    assert select_threshold(ThresholdConfig("fixed", 0.3), np.array([0, 1]), np.array([0.9, 0.1])).value == 0.3
    with pytest.raises(ValueError, match="unknown threshold rule 'median'"):
        ThresholdConfig("median")
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        ThresholdConfig("fixed", 1.0)
    with pytest.raises(ValueError, match="both classes"):
        select_threshold(ThresholdConfig(), np.array([1, 1]), np.array([0.2, 0.3]))


def _overlapping_scores(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """80 labels and scores whose classes overlap, so every target needs a real trade-off."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 80)
    return y, np.clip(rng.normal(0.4 + 0.2 * y, 0.15), 0.001, 0.999)


@pytest.mark.parametrize("target", [0.5, 0.8, 0.9, 1.0])
def test_target_sensitivity_is_the_most_specific_threshold_that_reaches_it(target):
    from sklearn.metrics import roc_curve

    y, s = _overlapping_scores(2)
    choice = select_threshold(ThresholdConfig("sensitivity", target=target), y, s)
    assert choice.validation_sensitivity >= target and choice.rule == f"sensitivity>={target:g}"
    # scikit-learn's ROC: the best specificity among its operating points with TPR >= target
    fpr, tpr, _ = roc_curve(y, s)
    assert choice.validation_specificity == pytest.approx(1 - fpr[tpr >= target].min())
    assert choice.value not in set(s.tolist())


@pytest.mark.parametrize("target", [0.5, 0.9, 1.0])
def test_target_specificity_is_the_most_sensitive_threshold_that_reaches_it(target):
    from sklearn.metrics import roc_curve

    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 80)
    s = np.clip(rng.normal(0.4 + 0.2 * y, 0.15), 0.001, 0.999)
    choice = select_threshold(ThresholdConfig("specificity", target=target), y, s)
    fpr, tpr, _ = roc_curve(y, s)
    assert choice.validation_specificity >= target
    assert choice.validation_sensitivity == pytest.approx(tpr[1 - fpr >= target].max())


def test_target_rules_by_hand():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9])
    # sensitivity >= 0.75 keeps 0.7 0.8 0.9 flagged: the highest such cut is between 0.6 and 0.7
    assert select_threshold(ThresholdConfig("sensitivity", target=0.75), y, s).value == pytest.approx(0.65)
    # sensitivity 1.0 needs 0.4 flagged: cut between 0.3 and 0.4 (specificity 3/4)
    c = select_threshold(ThresholdConfig("sensitivity", target=1.0), y, s)
    assert c.value == pytest.approx(0.35) and c.validation_specificity == 0.75
    # specificity 1.0 must leave 0.6 unflagged: the lowest such cut is between 0.6 and 0.7
    assert select_threshold(ThresholdConfig("specificity", target=1.0), y, s).value == pytest.approx(0.65)


def test_target_must_be_a_proportion():
    with pytest.raises(ValueError, match="target"):
        ThresholdConfig("sensitivity", target=1.5)


def test_a_validation_negative_scoring_exactly_one_does_not_crash_the_specificity_rule():
    # float32 softmax saturates: two of ten negatives score exactly 1.0, so no threshold in (0, 1)
    # reaches specificity 0.9; the closest one (the lowest with specificity 0.8) is chosen and
    # the choice says the target was not met (this raised "min() arg is an empty sequence")
    y = np.array([0] * 10 + [1] * 10)
    s = np.r_[np.linspace(0.05, 0.5, 8), 1.0, 1.0, np.linspace(0.6, 0.95, 8), 1.0, 1.0].astype(np.float32)
    choice = select_threshold(ThresholdConfig("specificity", target=0.9), y, s)
    assert not choice.target_met and choice.validation_specificity == pytest.approx(0.8)
    assert 0.5 < choice.value < 0.6 and choice.to_dict()["target_met"] is False
    met = select_threshold(ThresholdConfig("specificity", target=0.8), y, s)
    assert met.target_met and met.validation_specificity == pytest.approx(0.8)


@pytest.mark.parametrize("rule", ["youden", "sensitivity", "specificity"])
def test_thresholds_are_never_clipped_into_the_next_gap(rule):
    # scores a millionth apart at both ends: the old clip to [1e-6, 1 - 1e-6] moved each of these
    # thresholds past a photo, losing the validation calls the rule had chosen
    from sklearn.metrics import roc_curve

    y = np.array([0, 0, 1, 0, 1, 1])
    s = np.array([0.0, 4e-7, 8e-7, 0.9999991, 0.9999996, 1.0])
    choice = select_threshold(ThresholdConfig(rule, target=1.0), y, s)
    fpr, tpr, _ = roc_curve(y, s)  # the reference operating points
    if rule == "youden":
        j = choice.validation_sensitivity + choice.validation_specificity - 1
        assert j == pytest.approx((tpr - fpr).max())
    else:
        assert choice.target_met
    assert choice.value not in set(s.tolist())


@pytest.mark.parametrize("target", [0.5, 0.8, 0.9, 1.0])
def test_target_specificity_matches_scikit_learn(target):
    from sklearn.metrics import roc_curve

    y, s = _overlapping_scores(3)
    choice = select_threshold(ThresholdConfig("specificity", target=target), y, s)
    fpr, tpr, _ = roc_curve(y, s)  # the best sensitivity among operating points with specificity >= target
    assert choice.target_met and choice.validation_sensitivity == pytest.approx(tpr[1 - fpr >= target].max())


def test_the_widest_gap_threshold_stands_clear_of_crowded_scores():
    """The benchmark bundle's threshold: where the middle scores leave the most room, not their median
    (which, for a saturating head, sits among scores a few int8 steps apart)."""
    crowd = np.linspace(0.95, 0.999, 12)
    scores = np.r_[0.01, 0.02, 0.45, 0.5, 0.55, 0.8, crowd, 0.9999]  # the widest gap (0.02-0.45) is not in the middle
    t = widest_gap_threshold(scores)
    assert t == pytest.approx((0.55 + 0.8) / 2) and np.median(scores) > 0.95
    assert 0.0 < t < 1.0 and 0 < (scores >= t).sum() < len(scores)
    with pytest.raises(ValueError, match="no gap"):
        widest_gap_threshold(np.full(10, 0.7))
