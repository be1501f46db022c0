"""The one AUC and the one agreement measure (edge.metrics), pinned against scikit-learn and
against hand-counted cases; the converters' gate and the benchmark report these same figures."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from facescreen.edge.metrics import agreement, roc_auc


@pytest.mark.parametrize("seed", range(6))
def test_auc_matches_scikit_learn_with_ties(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 90)
    s = np.round(rng.random(90) + 0.3 * y, 1)  # coarse scores: many ties, across the classes too
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert roc_auc(y.astype(bool), s) == roc_auc(y, s)


def test_auc_by_hand():
    # positives 0.8, 0.5; negatives 0.5, 0.1: pairs (0.8>0.5) (0.8>0.1) (0.5=0.5 -> 1/2) (0.5>0.1) = 3.5 / 4
    assert roc_auc([1, 1, 0, 0], [0.8, 0.5, 0.5, 0.1]) == pytest.approx(0.875)
    assert roc_auc([1, 0], [0.2, 0.9]) == 0.0 and roc_auc([0, 1], [0.2, 0.9]) == 1.0


def test_auc_is_undefined_with_one_class_and_refuses_bad_labels():
    assert np.isnan(roc_auc([1, 1, 1], [0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match="0/1 labels"):
        roc_auc([0, 2, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="one shape"):
        roc_auc([0, 1], [0.1, 0.2, 0.3])


def test_flags_follow_the_result_rule_at_the_threshold():
    """A probability exactly at the threshold is flagged (>=), as ScreeningResult.flag says: one just
    below it is a changed flag, one just above is not."""
    ref = np.array([[0.5, 0.5], [0.5, 0.5]])
    below = agreement(ref, np.array([[0.51, 0.49], [0.5, 0.5]]), [1], 0.5)
    above = agreement(ref, np.array([[0.49, 0.51], [0.5, 0.5]]), [1], 0.5)
    assert below.n_flag_disagreements == 1 and above.n_flag_disagreements == 0


def test_agreement_counts_changed_flags_and_their_margin():
    ref = np.array([[0.9, 0.1], [0.55, 0.45], [0.3, 0.7], [0.2, 0.8]])
    other = np.array([[0.9, 0.1], [0.28, 0.72], [0.3, 0.7], [0.25, 0.75]])  # face 1 crosses 0.5, above face 2
    a = agreement(ref, other, [1], 0.5, labels=np.array([0, 0, 1, 1]))
    assert a.flag_agreement == 0.75 and a.n_flag_disagreements == 1 and a.n_faces == 4
    assert a.disagreement_margin == pytest.approx(0.05)
    assert a.max_abs_prob_diff == pytest.approx(0.27) and a.max_abs_screening_diff == pytest.approx(0.27)
    assert a.auc_reference == 1.0 and a.auc_artifact == 0.75 and a.auc_diff == pytest.approx(-0.25)
    same = agreement(ref, ref, [1], 0.5)
    assert same.flag_agreement == 1.0 and same.disagreement_margin is None and same.auc_diff is None
    with pytest.raises(ValueError, match="one shape"):
        agreement(ref, other[:3], [1], 0.5)
