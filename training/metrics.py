"""Screening metrics, written out so that what they mean is plain (and pinned against
scikit-learn in tests/training/test_training_metrics.py).

Binary: the screening score (summed probability of the positive classes) against a threshold;
a photo is flagged when ``score >= threshold`` (:func:`edge.postprocess.flagged`). A metric whose
denominator is zero is 0.0, as scikit-learn's ``zero_division=0``. AUC is :func:`edge.metrics.roc_auc`
(the one home it shares with the converters' parity gate and the benchmark): the Mann-Whitney
probability that a positive scores above a negative (ties count one half); it is undefined (NaN)
when one class is absent.
Summaries across folds are mean and sample SD (ddof=1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from facescreen.edge.metrics import roc_auc
from facescreen.edge.postprocess import flagged

BINARY_METRICS = ("accuracy", "sensitivity", "specificity", "precision", "f1", "auc")


def _ratio(a: float, b: float) -> float:
    return float(a) / float(b) if b else 0.0


def _binary(y_true) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim != 1 or not np.isin(y, (0, 1)).all():
        raise ValueError(f"expected a 1-D array of 0/1 labels, got shape {y.shape} with values {np.unique(y)[:5]}")
    return y.astype(np.int64)


def roc_curve_points(y_true, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fpr, tpr, thresholds)`` from (0, 0) to (1, 1), one point per distinct score (descending);
    the first threshold is +inf (nothing flagged). Tied scores make one diagonal step."""
    y = _binary(y_true)
    s = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"a ROC curve needs both classes; got {n_pos} positive and {n_neg} negative")
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s) - 1]  # last photo of each distinct score
    tp, fp = np.cumsum(y_sorted)[last], np.cumsum(1 - y_sorted)[last]
    return (np.r_[0.0, fp / n_neg], np.r_[0.0, tp / n_pos], np.r_[np.inf, s_sorted[last]])


@dataclass(frozen=True)
class BinaryMetrics:
    n: int
    tp: int
    fp: int
    tn: int
    fn: int
    accuracy: float
    sensitivity: float
    specificity: float
    precision: float
    f1: float
    auc: float
    threshold: float

    def to_dict(self) -> dict:
        return asdict(self)


def confusion(y_true, flags) -> tuple[int, int, int, int]:
    y, f = _binary(y_true), _binary(flags)
    return (
        int(((y == 1) & (f == 1)).sum()),
        int(((y == 0) & (f == 1)).sum()),
        int(((y == 0) & (f == 0)).sum()),
        int(((y == 1) & (f == 0)).sum()),
    )


def metrics_from_calls(y_true, flags, auc: float = float("nan"), threshold: float = float("nan")) -> BinaryMetrics:
    """Metrics of yes/no calls (a model at its threshold, or a human reader)."""
    tp, fp, tn, fn = confusion(y_true, flags)
    sens, prec = _ratio(tp, tp + fn), _ratio(tp, tp + fp)
    return BinaryMetrics(
        n=tp + fp + tn + fn,
        tp=tp,
        fp=fp,
        tn=tn,
        fn=fn,
        accuracy=_ratio(tp + tn, tp + fp + tn + fn),
        sensitivity=sens,
        specificity=_ratio(tn, tn + fp),
        precision=prec,
        f1=_ratio(2 * prec * sens, prec + sens),
        auc=float(auc),
        threshold=float(threshold),
    )


def binary_metrics(y_true, scores, threshold: float) -> BinaryMetrics:
    s = np.asarray(scores, dtype=np.float64)
    return metrics_from_calls(y_true, flagged(s, threshold).astype(np.int64), roc_auc(_binary(y_true), s), threshold)


def mean_sd(values) -> tuple[float, float]:
    """Mean and sample SD (ddof=1) of the finite values; SD is NaN for fewer than two."""
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else float("nan")


def mean_ci(values, conf_level: float = 0.95) -> tuple[float, float]:
    """Student's t interval of the mean of the finite values, ``mean -+ t(k-1) SD / sqrt(k)`` (as
    scipy.stats.t.interval gives it); (nan, nan) for fewer than two. Over k folds this is the interval
    of the papers' headline figure, the fold mean; the folds share training photos, so it is a
    description of the spread, somewhat narrower than a new cohort would show."""
    from scipy.stats import t

    v = np.asarray([x for x in values if np.isfinite(x)], dtype=np.float64)
    if v.size < 2:
        return float("nan"), float("nan")
    half = float(t.ppf(0.5 + conf_level / 2.0, v.size - 1)) * float(v.std(ddof=1)) / np.sqrt(v.size)
    return float(v.mean() - half), float(v.mean() + half)


def summarise_folds(
    per_fold: list[BinaryMetrics], names: tuple[str, ...] = BINARY_METRICS, conf_level: float = 0.95
) -> dict[str, dict]:
    """Per metric: the fold mean, its sample SD and its t interval (``ci``) over the folds."""
    out: dict[str, dict] = {}
    for m in names:
        values = [getattr(f, m) for f in per_fold]
        mean, sd = mean_sd(values)
        out[m] = {"mean": mean, "sd": sd, "ci": list(mean_ci(values, conf_level))}
    return out


def predictive_values(sensitivity: float, specificity: float, prevalence: float) -> tuple[float, float]:
    """PPV and NPV at a prevalence (Bayes' theorem; Altman & Bland, BMJ 1994;309:102). A case-control
    study's own mix (about half syndromic) says nothing of a clinic's: give the intended use's."""
    if not 0.0 < prevalence < 1.0:
        raise ValueError(f"prevalence must be in (0, 1), got {prevalence}")
    tp, fp = sensitivity * prevalence, (1.0 - specificity) * (1.0 - prevalence)
    tn, fn = specificity * (1.0 - prevalence), (1.0 - sensitivity) * prevalence
    return _ratio(tp, tp + fp), _ratio(tn, tn + fn)


def multiclass_metrics(y_true, probs, classes: tuple[str, ...], top_k: tuple[int, ...] = (1, 2)) -> dict:
    """Per-class one-vs-rest precision/recall/F1/AUC (argmax prediction) and top-k accuracy."""
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape != (len(y), len(classes)):
        raise ValueError(f"expected probabilities of shape ({len(y)}, {len(classes)}), got {p.shape}")
    pred = p.argmax(1)
    per_class = {}
    for k, name in enumerate(classes):
        m = metrics_from_calls((y == k).astype(int), (pred == k).astype(int), roc_auc(y == k, p[:, k]))
        per_class[name] = {
            "n": int((y == k).sum()),
            "precision": m.precision,
            "recall": m.sensitivity,
            "f1": m.f1,
            "auc": m.auc,
        }
    ranked = np.argsort(-p, axis=1, kind="stable")
    topk = {
        f"top{k}_accuracy": float(np.mean([y[i] in ranked[i, :k] for i in range(len(y))]))
        for k in top_k
        if k < len(classes)
    }
    return {"per_class": per_class, **topk}
