"""DeLong, McNemar and Wilson, each pinned against an independent reference: a direct O(n^2)
DeLong from the 1988 paper's definitions, a bootstrap, a published example, and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from facescreen.training.comparisons import (
    delong_auc_ci,
    delong_components,
    delong_covariance,
    delong_test,
    mcnemar_test,
    midranks,
    wilson_interval,
)


def _direct_delong(y, scores):
    """DeLong et al. (1988) written out: psi(X, Y) = 1 if X > Y, 1/2 if equal, 0 if less; V10(X_i) is
    the mean psi over negatives, V01(Y_j) the mean over positives; S10, S01 their sample covariances."""
    y = np.asarray(y)
    pos = [np.asarray(s)[y == 1] for s in scores]
    neg = [np.asarray(s)[y == 0] for s in scores]
    psi = [(p[:, None] > q[None, :]) + 0.5 * (p[:, None] == q[None, :]) for p, q in zip(pos, neg)]
    aucs = np.array([m.mean() for m in psi])
    v10 = np.array([m.mean(axis=1) for m in psi])
    v01 = np.array([m.mean(axis=0) for m in psi])
    m, n = v10.shape[1], v01.shape[1]
    return aucs, np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n


def _correlated_scores(seed, n=120, ties=False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    common = rng.normal(size=n)
    a = 1.2 * y + common + rng.normal(0, 0.8, n)
    b = 0.7 * y + common + rng.normal(0, 0.8, n)
    if ties:
        a, b = np.round(a), np.round(b * 2) / 2
    return y, a, b


def test_midranks_match_scipy():
    x = np.array([3.0, 1.0, 3.0, 2.0, 3.0, 1.0])
    np.testing.assert_allclose(midranks(x), stats.rankdata(x, method="average"))


@pytest.mark.parametrize("seed,ties", [(0, False), (1, True), (2, True), (3, False)])
def test_fast_delong_equals_the_direct_definition(seed, ties):
    y, a, b = _correlated_scores(seed, ties=ties)
    aucs, cov = delong_covariance(y, np.vstack([a, b]))
    ref_aucs, ref_cov = _direct_delong(y, [a, b])
    np.testing.assert_allclose(aucs, ref_aucs, atol=1e-12)
    np.testing.assert_allclose(cov, ref_cov, atol=1e-12)
    assert aucs[0] == pytest.approx(roc_auc_score(y, a)) and aucs[1] == pytest.approx(roc_auc_score(y, b))


def test_delong_variance_of_the_difference_agrees_with_a_bootstrap():
    y, a, b = _correlated_scores(7, n=300)
    r = delong_test(y, a, b)
    rng = np.random.default_rng(0)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    diffs = []
    for _ in range(1500):
        i = np.r_[rng.choice(pos, len(pos)), rng.choice(neg, len(neg))]
        diffs.append(roc_auc_score(y[i], a[i]) - roc_auc_score(y[i], b[i]))
    assert r.se == pytest.approx(np.std(diffs, ddof=1), rel=0.1)
    assert r.difference == pytest.approx(roc_auc_score(y, a) - roc_auc_score(y, b))
    assert r.p_value == pytest.approx(2 * stats.norm.sf(abs(r.difference / r.se)))
    assert r.ci[0] < r.difference < r.ci[1]


def test_hanley_mcneil_ct_example():
    """Hanley & McNeil (1982), Radiology 143:29, Table 1: 109 CT images rated 1..5 (58 normal,
    51 abnormal). Published: AUC 0.893, standard error 0.032 (their exponential approximation;
    DeLong's nonparametric SE is a different estimator of the same quantity)."""
    normal = np.repeat([1, 2, 3, 4, 5], [33, 6, 6, 11, 2])
    abnormal = np.repeat([1, 2, 3, 4, 5], [3, 2, 2, 11, 33])
    y = np.r_[np.zeros(len(normal)), np.ones(len(abnormal))].astype(int)
    ci = delong_auc_ci(y, np.r_[normal, abnormal])
    assert ci.auc == pytest.approx(0.893, abs=5e-4)
    assert ci.se == pytest.approx(0.032, rel=0.1)
    assert ci.lower == pytest.approx(ci.auc - 1.959964 * ci.se) and ci.upper <= 1.0


def test_delong_test_holds_its_size_under_the_null():
    """Two scores with the same AUC: the test rejects at 5% about 5% of the time."""
    rng = np.random.default_rng(3)
    p = []
    for _ in range(400):
        y = rng.integers(0, 2, 80)
        common = rng.normal(size=80)
        a = y + common + rng.normal(0, 1, 80)
        b = y + common + rng.normal(0, 1, 80)
        p.append(delong_test(y, a, b).p_value)
    assert 0.02 <= np.mean(np.array(p) < 0.05) <= 0.09


def test_identical_scores_give_no_difference():
    y, a, _ = _correlated_scores(5)
    r = delong_test(y, a, a)
    assert r.difference == 0.0 and r.z == 0.0 and r.p_value == 1.0


def test_delong_needs_two_of_each_class():
    with pytest.raises(ValueError, match="at least 2 positives and 2 negatives"):
        delong_components([1, 0, 0, 0], [0.9, 0.1, 0.2, 0.3])


@pytest.mark.parametrize("b,c", [(6, 16), (0, 5), (12, 12), (30, 11), (0, 0)])
def test_mcnemar_matches_the_exact_binomial_test(b, c):
    """A's and B's correctness on the same photos: ``b`` photos only A gets right, ``c`` only B."""
    y = np.ones(b + c + 10, dtype=int)
    a_calls = np.r_[np.ones(b), np.zeros(c), np.ones(10)].astype(int)  # right, wrong, right
    b_calls = np.r_[np.zeros(b), np.ones(c), np.ones(10)].astype(int)  # wrong, right, right
    r = mcnemar_test(y, a_calls, b_calls)
    assert (r.only_a_correct, r.only_b_correct, r.both_correct, r.both_wrong) == (b, c, 10, 0)
    ref = stats.binomtest(b, b + c, 0.5).pvalue if b + c else 1.0
    assert r.p_exact == pytest.approx(ref)
    if b + c:
        chi2 = (abs(b - c) - 1) ** 2 / (b + c)
        assert r.chi2 == pytest.approx(chi2) and r.p_chi2 == pytest.approx(stats.chi2.sf(chi2, 1))


def test_mcnemar_counts_correctness_not_calls():
    y = np.array([1, 1, 0, 0, 1, 0])
    model = np.array([1, 0, 0, 1, 1, 0])  # right, wrong, right, wrong, right, right
    reader = np.array([1, 1, 1, 1, 0, 0])  # right, right, wrong, wrong, wrong, right
    r = mcnemar_test(y, model, reader)
    assert (r.both_correct, r.only_a_correct, r.only_b_correct, r.both_wrong) == (2, 2, 1, 1)


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (10, 10), (45, 50), (1, 2)])
def test_wilson_matches_scipy(k, n):
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(ref.low, abs=1e-12) and hi == pytest.approx(ref.high, abs=1e-12)


def test_newcombe_interval_at_the_hanley_mcneil_ct_example():
    """Hanley & McNeil's (1982) CT example: their published SE 0.032 comes from the variance that
    Newcombe's (2006) method 5 inverts (with N* = (51 + 58) / 2 for both group sizes)."""
    from facescreen.training.comparisons import newcombe_auc_ci

    normal = np.repeat([1, 2, 3, 4, 5], [33, 6, 6, 11, 2])
    abnormal = np.repeat([1, 2, 3, 4, 5], [3, 2, 2, 11, 33])
    y = np.r_[np.zeros(len(normal)), np.ones(len(abnormal))].astype(int)
    ci = newcombe_auc_ci(y, np.r_[normal, abnormal])
    assert ci.auc == pytest.approx(0.893, abs=5e-4) and ci.se == pytest.approx(0.032, abs=0.001)
    # a score interval: asymmetric, reaching further towards 0.5 than the Wald interval does
    assert ci.upper - ci.auc < ci.auc - ci.lower and 0.78 < ci.lower < ci.auc - 1.96 * ci.se


def test_a_perfectly_separated_small_subgroup_gets_a_real_interval():
    from facescreen.training.comparisons import newcombe_auc_ci

    y = np.r_[np.ones(11), np.zeros(7)].astype(int)
    s = np.r_[np.linspace(0.6, 0.9, 11), np.linspace(0.1, 0.4, 7)]
    assert delong_auc_ci(y, s).lower == 1.0  # DeLong's normal interval: "1.000 (1.000-1.000)"
    ci = newcombe_auc_ci(y, s)
    assert ci.auc == 1.0 and ci.upper == 1.0 and 0.6 < ci.lower < 0.9


@pytest.mark.parametrize("m, n", [(5, 5), (11, 7), (20, 20)])
def test_newcombe_interval_covers_a_known_auc_in_small_groups(m, n):
    """Binormal scores with unit variances and means delta apart have AUC = Phi(delta / sqrt 2)
    exactly: at delta = sqrt(2) Phi^-1(0.95) the true AUC is 0.95. DeLong's interval covers it
    0.46 (5 per class) to 0.84 (20/20) of the time; the interval reported for subgroups must hold ~0.95."""
    from facescreen.training.comparisons import newcombe_auc_ci

    rng = np.random.default_rng(m * 100 + n)
    delta = np.sqrt(2) * stats.norm.ppf(0.95)
    y = np.r_[np.ones(m), np.zeros(n)].astype(int)
    hits = 0
    for _ in range(400):
        ci = newcombe_auc_ci(y, np.r_[rng.normal(delta, 1, m), rng.normal(0, 1, n)])
        hits += ci.lower <= 0.95 <= ci.upper
    assert hits / 400 >= 0.92


def test_clustered_mcnemar_counts_children_not_photos():
    """Durkalski et al. (2003): with one photo per child the clustered statistic is McNemar's
    uncorrected (b - c)^2 / (b + c) (statsmodels' mcnemar(exact=False, correction=False)); four
    copies of each child's photo leave it unchanged, while the photo-level test grows fourfold."""
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 60)
    model = np.where(rng.random(60) < 0.85, y, 1 - y)
    reader = np.where(rng.random(60) < 0.65, y, 1 - y)
    kids = np.arange(60).astype(str)
    one = mcnemar_test(y, model, reader, clusters=kids)
    b, c = one.only_a_correct, one.only_b_correct
    assert one.p_clustered == pytest.approx(stats.chi2.sf((b - c) ** 2 / (b + c), 1))
    assert one.n_children == 60 and one.p_value == one.p_exact  # one photo each: nothing to cluster
    four = mcnemar_test(np.repeat(y, 4), np.repeat(model, 4), np.repeat(reader, 4), clusters=np.repeat(kids, 4))
    assert four.n == 240 and four.n_children == 60
    assert four.p_clustered == pytest.approx(one.p_clustered) and four.p_value == four.p_clustered
    assert four.p_exact < one.p_exact / 10  # photos counted as children overstate the evidence
