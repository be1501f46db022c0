"""Paired comparisons on the same children, and intervals for proportions.

- DeLong's test for two correlated AUCs (DeLong, DeLong & Clarke-Pearson 1988), computed with the
  fast midrank algorithm of Sun & Xu (2014): each photo's placement value (the fraction of the other
  class it outranks, ties counted one half) gives the AUC's structural components, whose sample
  covariances give the variance of each AUC and of their difference. Also a DeLong interval for
  one AUC.
- McNemar's test for two sets of yes/no calls on the same photos (model at its threshold vs a
  reader): only the discordant photos count. The exact two-sided binomial p-value is reported
  (with few discordant pairs the chi-squared approximation is poor), and the chi-squared
  statistic with continuity correction beside it.
- Wilson score interval for a proportion (sensitivity, specificity).
- Newcombe's score-type interval for one AUC in a small group (subgroups), where DeLong's normal
  interval collapses to a point at AUC 1.0.

Pinned in tests/training/test_training_comparisons.py against a direct O(n^2) DeLong, a
bootstrap, scipy's exact binomial test and scipy's Wilson interval.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from facescreen.edge.metrics import wilson_interval  # noqa: F401 (its home is edge; re-exported here)

from .metrics import _binary


def _norm_ppf(q: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(q))


def _norm_sf(z: float) -> float:
    from scipy.stats import norm

    return float(norm.sf(z))


def midranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their mean rank (Sun & Xu's ``compute_midrank``)."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    n = len(x)
    ranks = np.empty(n, dtype=np.float64)
    i = 0
    while i < n:
        j = i
        while j < n and xs[j] == xs[i]:
            j += 1
        ranks[i:j] = 0.5 * (i + j - 1) + 1.0
        i = j
    out = np.empty(n, dtype=np.float64)
    out[order] = ranks
    return out


def delong_components(y_true, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(aucs (k,), v10 (k, m), v01 (k, n))`` for k score vectors (rows of ``scores``) on the same
    m positives and n negatives: V10 of a positive is the fraction of negatives it outranks, V01 of
    a negative the fraction of positives that outrank it (ties one half)."""
    y = _binary(y_true)
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    if s.shape[1] != len(y):
        raise ValueError(f"expected scores of length {len(y)}, got shape {s.shape}")
    pos, neg = s[:, y == 1], s[:, y == 0]
    m, n = pos.shape[1], neg.shape[1]
    if m < 2 or n < 2:
        raise ValueError(f"DeLong needs at least 2 positives and 2 negatives, got {m} and {n}")
    aucs, v10, v01 = np.empty(len(s)), np.empty((len(s), m)), np.empty((len(s), n))
    for r in range(len(s)):
        tx, ty, tz = midranks(pos[r]), midranks(neg[r]), midranks(np.r_[pos[r], neg[r]])
        aucs[r] = tz[:m].sum() / m / n - (m + 1.0) / 2.0 / n
        v10[r] = (tz[:m] - tx) / n
        v01[r] = 1.0 - (tz[m:] - ty) / m
    return aucs, v10, v01


def delong_covariance(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    """``(aucs, covariance (k, k))`` of the AUCs of k score vectors on the same photos."""
    aucs, v10, v01 = delong_components(y_true, scores)
    m, n = v10.shape[1], v01.shape[1]
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, cov


@dataclass(frozen=True)
class AucInterval:
    auc: float
    se: float
    lower: float
    upper: float
    conf_level: float


def delong_auc_ci(y_true, scores, conf_level: float = 0.95) -> AucInterval:
    """The AUC with DeLong's standard error and a normal interval clipped to [0, 1]."""
    aucs, cov = delong_covariance(y_true, scores)
    se = math.sqrt(max(float(cov[0, 0]), 0.0))
    z = _norm_ppf(0.5 + conf_level / 2.0)
    a = float(aucs[0])
    return AucInterval(a, se, max(0.0, a - z * se), min(1.0, a + z * se), conf_level)


def _hanley_mcneil_newcombe_var(theta: float, m: int, n: int) -> float:
    """Hanley & McNeil's (1982) variance of an AUC with Newcombe's (2006) substitution of
    N* = (m + n) / 2 for both group sizes in its correction terms."""
    n_star = (m + n) / 2.0
    return theta * (1 - theta) * (1 + (n_star - 1) * ((1 - theta) / (2 - theta) + theta / (1 + theta))) / (m * n)


def newcombe_auc_ci(y_true, scores, conf_level: float = 0.95) -> AucInterval:
    """Newcombe's (2006, Statist. Med. 25:559, method 5) score-type interval for an AUC: the values
    ``theta`` with ``(theta - AUC)^2 <= z^2 V(theta)``, V Hanley & McNeil's variance at N*.

    For small groups: the variance is taken at the candidate ``theta``, not at the estimate, so a
    perfectly separated 11/7 subgroup gets a real lower bound instead of DeLong's "1.000-1.000"
    (whose coverage at a true AUC of 0.95 is 0.46 with 5 per class). ``se`` is V at the estimate."""
    from scipy.optimize import brentq

    from facescreen.edge.metrics import roc_auc

    y = _binary(y_true)
    m, n = int(y.sum()), int(len(y) - y.sum())
    if m < 1 or n < 1:
        raise ValueError(f"an AUC interval needs both classes, got {m} positive and {n} negative")
    a = float(roc_auc(y, np.asarray(scores, dtype=np.float64)))
    z2 = _norm_ppf(0.5 + conf_level / 2.0) ** 2

    def gap(theta):  # <= 0 inside the interval (a number or an array of them)
        return (theta - a) ** 2 - z2 * _hanley_mcneil_newcombe_var(theta, m, n)

    # the interval is where gap <= 0; at AUC 0 or 1 the variance vanishes and gap touches 0 at the
    # estimate itself, so each bound is bracketed on a grid first, away from that trivial root
    grid = np.linspace(0.0, 1.0, 2001)
    inside = (gap(grid) <= 0) | (grid == a)
    first, last = int(np.argmax(inside)), len(grid) - 1 - int(np.argmax(inside[::-1]))
    lower = 0.0 if first == 0 else brentq(gap, grid[first - 1], min(grid[first], a), xtol=1e-12)
    upper = 1.0 if last == len(grid) - 1 else brentq(gap, max(grid[last], a), grid[last + 1], xtol=1e-12)
    se = math.sqrt(_hanley_mcneil_newcombe_var(a, m, n))
    return AucInterval(a, se, float(lower), float(upper), conf_level)


@dataclass(frozen=True)
class DeLongResult:
    name_a: str
    name_b: str
    n_positive: int
    n_negative: int
    auc_a: float
    auc_b: float
    difference: float  # a - b
    se: float
    z: float
    p_value: float  # two-sided
    ci: tuple[float, float]  # of the difference
    conf_level: float

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ci"] = list(self.ci)
        return d


def delong_test(
    y_true, scores_a, scores_b, name_a: str = "A", name_b: str = "B", conf_level: float = 0.95
) -> DeLongResult:
    """DeLong's test of AUC(a) = AUC(b) for two scores of the same photos."""
    y = _binary(y_true)
    aucs, cov = delong_covariance(y, np.vstack([scores_a, scores_b]))
    diff = float(aucs[0] - aucs[1])
    var = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    se = math.sqrt(max(var, 0.0))
    if se == 0.0:  # identical rankings: no evidence of a difference
        z, p = 0.0, 1.0
    else:
        z = diff / se
        p = min(1.0, 2.0 * _norm_sf(abs(z)))
    q = _norm_ppf(0.5 + conf_level / 2.0)
    return DeLongResult(
        name_a,
        name_b,
        int(y.sum()),
        int(len(y) - y.sum()),
        float(aucs[0]),
        float(aucs[1]),
        diff,
        se,
        z,
        p,
        (diff - q * se, diff + q * se),
        conf_level,
    )


@dataclass(frozen=True)
class McNemarResult:
    name_a: str
    name_b: str
    n: int
    both_correct: int
    only_a_correct: int  # b of the 2x2 table
    only_b_correct: int  # c
    both_wrong: int
    p_exact: float  # two-sided exact binomial test of b vs c
    chi2: float  # (|b - c| - 1)^2 / (b + c), continuity corrected
    p_chi2: float
    n_children: int = 0  # the units of the clustered test (= n when each child has one photo)
    p_clustered: float | None = None  # Durkalski's clustered McNemar, children as the unit; None: not asked

    @property
    def p_value(self) -> float:
        """The p-value to read: children as the unit when some child has several photos."""
        return self.p_clustered if self.p_clustered is not None and self.n_children < self.n else self.p_exact

    def to_dict(self) -> dict:
        return asdict(self)


def _binom_two_sided(k: int, n: int) -> float:
    """Exact two-sided binomial p-value of ``k`` successes in ``n`` at p = 1/2."""
    from scipy.stats import binom

    if n == 0:
        return 1.0
    return float(min(1.0, 2.0 * binom.cdf(min(k, n - k), n, 0.5)))


def mcnemar_test(y_true, calls_a, calls_b, name_a: str = "A", name_b: str = "B", clusters=None) -> McNemarResult:
    """McNemar's test on correctness: does A call the photos right more often than B?

    ``clusters`` (each photo's child): when a child has several photos, the photos are not
    independent and the child is the unit: Durkalski et al.'s (2003) clustered McNemar statistic
    ``(sum_k (b_k - c_k))^2 / sum_k (b_k - c_k)^2`` over children k is reported as ``p_clustered``
    (it is McNemar's uncorrected statistic when every child has one photo)."""
    y = _binary(y_true)
    a, b = _binary(calls_a) == y, _binary(calls_b) == y
    if not (len(a) == len(b) == len(y)):
        raise ValueError(f"expected calls of equal length, got {len(a)}, {len(b)} for {len(y)} photos")
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    d = only_a + only_b
    chi2 = (abs(only_a - only_b) - 1.0) ** 2 / d if d else 0.0
    from scipy.stats import chi2 as chi2_dist

    n_children, p_clustered = len(y), None
    if clusters is not None:
        _, child = np.unique(np.asarray(clusters, dtype=object).astype(str), return_inverse=True)
        n_children = int(child.max()) + 1 if len(child) else 0
        diff = np.bincount(child, weights=(a & ~b).astype(float) - (~a & b).astype(float), minlength=n_children)
        den = float(np.sum(diff**2))
        p_clustered = float(chi2_dist.sf(float(diff.sum()) ** 2 / den, 1)) if den else 1.0
    return McNemarResult(
        name_a,
        name_b,
        len(y),
        int((a & b).sum()),
        only_a,
        only_b,
        int((~a & ~b).sum()),
        _binom_two_sided(only_a, d),
        chi2,
        float(chi2_dist.sf(chi2, 1)) if d else 1.0,
        n_children,
        p_clustered,
    )
