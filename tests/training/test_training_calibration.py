"""Calibration statistics pinned against scikit-learn, temperature scaling against a brute-force
search, and the edge's temperature step against softmax(logits / T)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, log_loss

from facescreen.edge.postprocess import (
    apply_temperature,
    representable_scores,
    screening_probability,
    threshold_resolution,
)
from facescreen.training.calibration import (
    brier_score,
    cross_entropy,
    expected_calibration_error,
    fit_temperature,
    reliability,
)


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@pytest.mark.parametrize("seed", range(3))
def test_brier_and_reliability_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, 200) ** 1.5
    y = (rng.uniform(0, 1, 200) < p).astype(int)
    assert brier_score(y, p) == pytest.approx(brier_score_loss(y, p))
    r = reliability(y, p, n_bins=10)
    frac, mean = calibration_curve(y, p, n_bins=10, strategy="uniform")
    filled = np.array(r.counts) > 0
    np.testing.assert_allclose(np.array(r.fraction_positive)[filled], frac)
    np.testing.assert_allclose(np.array(r.mean_predicted)[filled], mean)
    assert sum(r.counts) == 200
    counts = np.bincount(np.searchsorted(np.linspace(0, 1, 11)[1:-1], p), minlength=10)  # scikit-learn's binning
    assert list(r.counts) == counts.tolist()
    assert r.ece == pytest.approx(np.sum(counts[filled] / 200 * np.abs(frac - mean)))


def test_scores_on_a_bin_edge_fall_in_the_lower_bin_as_in_scikit_learn():
    # float32 softmax outputs and int8 outputs land exactly on edges such as 0.5 and 1.0
    p = np.r_[np.linspace(0, 1, 11), np.linspace(0, 1, 11), 0.5, 0.5]
    y = np.r_[np.zeros(11), np.ones(11), 1, 0].astype(int)
    r = reliability(y, p, n_bins=10)
    frac, mean = calibration_curve(y, p, n_bins=10, strategy="uniform")
    filled = np.array(r.counts) > 0
    np.testing.assert_allclose(np.array(r.mean_predicted)[filled], mean)
    np.testing.assert_allclose(np.array(r.fraction_positive)[filled], frac)
    assert r.counts[0] == 4  # 0.0 and 0.1 (twice each): (0, 0.1] holds its upper edge


def test_ece_worked_example():
    # bins 0.0-0.5 and 0.5-1.0: {0.2, 0.4 | outcomes 0, 1} and {0.6, 0.8, 1.0 | outcomes 1, 1, 1}
    p = np.array([0.2, 0.4, 0.6, 0.8, 1.0])
    y = np.array([0, 1, 1, 1, 1])
    # |0.5 - 0.3| * 2/5 + |1.0 - 0.8| * 3/5 = 0.08 + 0.12
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.20)
    assert brier_score(y, p) == pytest.approx((0.04 + 0.36 + 0.16 + 0.04 + 0.0) / 5)


def test_reliability_refuses_bad_input():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        reliability([0, 1], [0.2, 1.3])
    with pytest.raises(ValueError, match="0/1 labels"):
        reliability([0, 2], [0.2, 0.3])


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.5])
def test_temperature_on_probabilities_equals_temperature_on_logits(temperature):
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (50, 3))
    probs = _softmax(logits)
    np.testing.assert_allclose(apply_temperature(probs, temperature), _softmax(logits / temperature), atol=1e-9)
    assert screening_probability(probs, [1, 2], temperature) == pytest.approx(
        _softmax(logits / temperature)[:, 1:].sum(1)
    )


def test_temperature_must_be_positive():
    with pytest.raises(ValueError, match="temperature"):
        apply_temperature(np.array([[0.4, 0.6]]), 0.0)


def test_fitted_temperature_recovers_an_over_confident_model():
    """Labels drawn from softmax(z); the model reports softmax(3 z): the fit should find T ~ 3, and
    reach the minimum a brute-force grid finds; the cross-entropy matches scikit-learn's log loss."""
    rng = np.random.default_rng(1)
    z = rng.normal(0, 1.2, (3000, 2))
    y = np.array([rng.choice(2, p=p) for p in _softmax(z)])
    over = _softmax(3.0 * z)
    fit = fit_temperature(y, over)
    assert fit.temperature == pytest.approx(3.0, rel=0.1)
    grid = np.exp(np.linspace(np.log(0.2), np.log(10), 2000))
    best = grid[np.argmin([cross_entropy(y, over, t) for t in grid])]
    assert fit.temperature == pytest.approx(best, rel=0.01)
    assert fit.nll_before == pytest.approx(log_loss(y, over)) and fit.nll_after < fit.nll_before
    # the ranking of a two-class score does not change
    s0, s1 = over[:, 1], screening_probability(over, [1], fit.temperature)
    assert (np.argsort(s0, kind="stable") == np.argsort(s1, kind="stable")).mean() > 0.99


def test_a_temperature_that_is_not_estimable_says_so():
    from facescreen.training.calibration import T_MAX, T_MIN

    y = np.array([0, 0, 1, 1])
    separable = fit_temperature(y, np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9]]))
    # refused, not shipped: a T at its bound saturates the scores (or flattens them to the prior)
    assert separable.at_bound and separable.fitted == pytest.approx(T_MIN, rel=0.01)
    assert separable.temperature == 1.0 and separable.nll_after == separable.nll_before
    noise = fit_temperature(y, np.array([[0.1, 0.9], [0.8, 0.2], [0.2, 0.8], [0.9, 0.1]]))  # as often right as wrong
    assert noise.at_bound and noise.fitted == pytest.approx(T_MAX, rel=0.01) and noise.temperature == 1.0
    assert not fit_temperature(
        np.array([0, 1, 0, 1, 1]), np.array([[0.9, 0.1], [0.3, 0.7], [0.4, 0.6], [0.2, 0.8], [0.6, 0.4]])
    ).at_bound


def test_int8_output_scores_and_threshold_resolution():
    """LiteRT's int8 softmax output: scale 1/256, zero point -128, so scores 0 .. 255/256."""
    s = representable_scores(1 / 256, -128, -128, 127)
    assert s[0] == 0.0 and s[-1] == pytest.approx(255 / 256) and np.diff(s).min() == pytest.approx(1 / 256)
    assert threshold_resolution(0.5, s) == pytest.approx(1 / 256)
    with pytest.raises(ValueError, match="cannot resolve the threshold 0.9980"):
        threshold_resolution(0.998, s)
    # a temperature > 1 pulls the top score down, so a threshold the raw grid resolves may no longer be
    cal = representable_scores(1 / 256, -128, -128, 127, temperature=2.0)
    assert cal[-1] < 0.95
    with pytest.raises(ValueError, match="cannot resolve"):
        threshold_resolution(0.96, cal)


def test_calibration_slope_matches_scikit_learn_and_the_intercept_balances_the_outcomes():
    """Slope: scikit-learn's unpenalised logistic regression of the outcome on logit(p).
    Calibration-in-the-large: with logit(p) as an offset, the fitted probabilities sum to the number
    of positives (the intercept's score equation)."""
    from sklearn.linear_model import LogisticRegression

    from facescreen.training.calibration import calibration_line

    rng = np.random.default_rng(5)
    true_logit = rng.normal(0, 1.5, 400)
    y = (rng.random(400) < 1 / (1 + np.exp(-true_logit))).astype(int)
    over = 1 / (1 + np.exp(-(2.0 * true_logit - 0.5)))  # too extreme and too low: slope ~0.5, intercept > 0
    line = calibration_line(y, over)
    x = np.log(over / (1 - over)).reshape(-1, 1)
    # unpenalised: C=inf (scikit-learn 1.8 deprecated penalty=None for it)
    sk = LogisticRegression(C=np.inf, tol=1e-10, max_iter=1000).fit(x, y)
    assert line.slope == pytest.approx(sk.coef_[0, 0], rel=1e-4) and 0.35 < line.slope < 0.65
    fitted = 1 / (1 + np.exp(-(x[:, 0] + line.intercept)))
    assert fitted.sum() == pytest.approx(y.sum(), rel=1e-5) and line.intercept > 0
