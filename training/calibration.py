"""Calibration of the screening probability: does "0.8" mean that 8 in 10 such children are syndromic?

- Brier score: the mean squared difference between probability and outcome (0 is perfect; always
  answering the prevalence scores prevalence x (1 - prevalence)).
- Reliability: the probabilities cut into ``n_bins`` equal-width bins; per bin the mean
  probability against the observed fraction of positives (scikit-learn's ``calibration_curve``
  with ``strategy="uniform"``, its right-closed bins included, plus the empty bins and the counts).
- Expected calibration error (ECE): the count-weighted mean of |observed - predicted| over bins.
- Calibration slope and intercept (Cox 1958; Van Calster et al. 2019, BMC Med 17:230): the slope
  of a logistic regression of the outcome on logit(probability) (1 is ideal; below 1 the scores are
  too extreme), and the calibration-in-the-large intercept with logit(probability) as an offset
  (0 is ideal; above 0 the scores are too low on average).
- Temperature scaling (Guo et al. 2017): one scalar ``T`` that divides the logits, fitted by
  minimising the cross-entropy on the validation split only. ``T > 1`` softens over-confident
  outputs. It leaves the arg-max class, and for two classes the ranking (AUC), unchanged. The
  bundle carries ``T``; the edge Screener applies it on every backend
  (:func:`facescreen.edge.postprocess.apply_temperature`), the tablet app in the browser.

All checked against scikit-learn in tests/training/test_training_calibration.py.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from facescreen.edge.postprocess import apply_temperature

from .metrics import _binary

# The search range. A fit at its lower end means a separable validation split (the cross-entropy
# keeps falling as T -> 0), at its upper end a model without information (T -> inf gives the
# prior); either way the temperature is not estimable from that split, and the fit says so.
T_MIN, T_MAX = 0.05, 20.0


def brier_score(y_true, prob) -> float:
    y = _binary(y_true)
    p = np.asarray(prob, dtype=np.float64)
    if p.shape != y.shape:
        raise ValueError(f"expected one probability per label, got {p.shape} for {y.shape}")
    return float(np.mean((p - y) ** 2))


@dataclass(frozen=True)
class Reliability:
    edges: tuple[float, ...]  # n_bins + 1 bin edges, 0 .. 1
    counts: tuple[int, ...]  # photos per bin
    mean_predicted: tuple[float, ...]  # NaN for an empty bin
    fraction_positive: tuple[float, ...]
    ece: float
    brier: float
    n: int

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("mean_predicted", "fraction_positive"):
            d[k] = [None if np.isnan(v) else round(float(v), 6) for v in d[k]]
        return d


def reliability(y_true, prob, n_bins: int = 10) -> Reliability:
    """Equal-width reliability bins, closed on the right as scikit-learn's (the first also holds 0.0)."""
    y = _binary(y_true)
    p = np.asarray(prob, dtype=np.float64)
    if n_bins < 2:
        raise ValueError(f"n_bins must be >= 2, got {n_bins}")
    if p.shape != y.shape or p.size == 0:
        raise ValueError(f"expected one probability per label, got {p.shape} for {y.shape}")
    if p.min() < 0.0 or p.max() > 1.0:
        raise ValueError(f"probabilities must lie in [0, 1], got {p.min():.4g}..{p.max():.4g}")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # right-closed bins, (0.2, 0.3], as scikit-learn's calibration_curve cuts them (0.0 in the first)
    which = np.searchsorted(edges[1:-1], p, side="left")
    counts = np.bincount(which, minlength=n_bins)
    sum_p = np.bincount(which, weights=p, minlength=n_bins)
    sum_y = np.bincount(which, weights=y, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p, frac = sum_p / counts, sum_y / counts
    filled = counts > 0
    ece = float(np.sum(counts[filled] / len(p) * np.abs(frac[filled] - mean_p[filled])))
    return Reliability(
        edges=tuple(edges.round(6).tolist()),
        counts=tuple(int(c) for c in counts),
        mean_predicted=tuple(mean_p.tolist()),
        fraction_positive=tuple(frac.tolist()),
        ece=ece,
        brier=brier_score(y, p),
        n=len(p),
    )


@dataclass(frozen=True)
class CalibrationLine:
    slope: float
    intercept: float  # calibration-in-the-large: the intercept with the slope fixed at 1 (offset)
    n: int

    def to_dict(self) -> dict:
        return asdict(self)


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1 - 1e-6)  # a saturated 0 or 1 would be an infinite logit
    return np.log(q / (1 - q))


def calibration_line(y_true, prob) -> CalibrationLine:
    """Calibration slope and calibration-in-the-large, each by maximum likelihood."""
    from scipy.optimize import minimize

    y = _binary(y_true).astype(np.float64)
    x = _logit(np.asarray(prob, dtype=np.float64))
    if len(np.unique(y)) < 2:
        raise ValueError("calibration slope needs both classes")

    def nll(beta: np.ndarray, offset: bool) -> float:
        eta = (x + beta[0]) if offset else beta[0] + beta[1] * x
        return float(np.sum(np.logaddexp(0.0, eta) - y * eta))

    both = minimize(lambda b: nll(b, False), np.array([0.0, 1.0]), method="BFGS", options={"gtol": 1e-9})
    large = minimize(lambda b: nll(b, True), np.array([0.0]), method="BFGS", options={"gtol": 1e-9})
    return CalibrationLine(slope=float(both.x[1]), intercept=float(large.x[0]), n=len(y))


def expected_calibration_error(y_true, prob, n_bins: int = 10) -> float:
    return reliability(y_true, prob, n_bins).ece


def cross_entropy(labels, probs, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the class labels under temperature-scaled probabilities."""
    y = np.asarray(labels, dtype=np.int64)
    p = apply_temperature(probs, temperature)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0))))


@dataclass(frozen=True)
class TemperatureFit:
    temperature: float  # the one to apply: the fitted one, or 1.0 when that one is refused (at_bound)
    nll_before: float
    nll_after: float  # at ``temperature``
    n_validation: int
    # the fit stopped at T_MIN or T_MAX: not estimable from this split, so refused. Applying it would
    # ship a model whose scores saturate (a T of 0.05 turned 17 of 92 test scores into exactly 1.0).
    at_bound: bool = False
    fitted: float = float("nan")  # what the search returned, applied or not

    def to_dict(self) -> dict:
        return asdict(self)


def fit_temperature(labels, probs) -> TemperatureFit:
    """The temperature minimising the validation cross-entropy (a bounded 1-D search over log T);
    a fit that stops at the search's bound is refused (``temperature`` 1.0, ``at_bound`` True).

    ``labels``: class indices; ``probs``: the model's (N, K) softmax outputs on the same photos."""
    from scipy.optimize import minimize_scalar

    y = np.asarray(labels, dtype=np.int64)
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or len(p) != len(y) or len(y) < 2:
        raise ValueError(f"expected (N, K) probabilities for N >= 2 labels, got {p.shape} for {y.shape}")
    if len(np.unique(y)) < 2:
        raise ValueError("temperature scaling needs at least two classes in the validation split")
    res = minimize_scalar(
        lambda log_t: cross_entropy(y, p, float(np.exp(log_t))),
        bounds=(np.log(T_MIN), np.log(T_MAX)),
        method="bounded",
        options={"xatol": 1e-6},
    )
    fitted = float(np.exp(res.x))
    at_bound = not (T_MIN * 1.01 < fitted < T_MAX * 0.99)
    t = 1.0 if at_bound else fitted
    return TemperatureFit(
        temperature=t,
        nll_before=cross_entropy(y, p),
        nll_after=cross_entropy(y, p, t),
        n_validation=len(y),
        at_bound=at_bound,
        fitted=fitted,
    )
