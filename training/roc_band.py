"""The pooled ROC curve and its bootstrap 95% confidence band, computed as pROC's ``ci.se`` does:
stratified bootstrap replicates (the same number of positives and negatives as the data; 2000 by
default, never fewer than 200), the ROC of each replicate read at fixed specificities, and the
2.5/50/97.5 percentiles of the sensitivities there. The AUC interval is the percentile interval
of the same replicates. When children have several photos, children are resampled (cluster bootstrap).

Reading a ROC at a specificity: between two ROC points the curve is the straight segment joining
them; where several points share one false-positive rate (a vertical step), the highest
sensitivity there is taken (as pROC's ``coords(input="specificity")`` does).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from facescreen.edge.metrics import roc_auc

from .metrics import roc_curve_points

MIN_BOOTSTRAP = 200
# Two false-positive rates closer than this are one: far below 1/n for any cohort (1e-9 would need a
# billion negatives), far above the rounding of ``1 - specificity`` (~1e-16).
_FPR_TOL = 1e-9


def sensitivity_at(fpr: np.ndarray, tpr: np.ndarray, specificity) -> np.ndarray:
    """Sensitivity of the ROC polyline ``(fpr, tpr)`` (sorted, from (0,0) to (1,1)) at the given specificities."""
    x = 1.0 - np.atleast_1d(np.asarray(specificity, dtype=np.float64))
    ux, first = np.unique(fpr, return_index=True)
    last = np.r_[first[1:] - 1, len(fpr) - 1]
    top, bottom = tpr[last], tpr[first]
    # ``1 - 0.9`` is 0.09999999999999998, just below the curve's 6/60 = 0.1: without the tolerance the
    # search lands on the previous false-positive rate and reads the BOTTOM of the step at 0.1
    j = np.clip(np.searchsorted(ux, x + _FPR_TOL, side="right") - 1, 0, len(ux) - 1)  # last unique fpr <= x
    exact = np.abs(ux[j] - x) <= _FPR_TOL
    nxt = np.minimum(j + 1, len(ux) - 1)
    span = np.where(nxt > j, ux[nxt] - ux[j], 1.0)
    frac = np.clip((x - ux[j]) / span, 0.0, 1.0)
    between = top[j] + frac * (bottom[nxt] - top[j])
    return np.where(exact | (nxt == j), top[j], between)


def percentile_interval(replicates: np.ndarray, conf_level: float, axis: int | None = None):
    """The central ``conf_level`` percentile interval of bootstrap replicates (pROC's and boot's
    "perc" interval): the (1 - conf_level)/2 and 1 - (1 - conf_level)/2 quantiles."""
    a = (1.0 - conf_level) / 2.0
    return np.quantile(replicates, a, axis=axis), np.quantile(replicates, 1.0 - a, axis=axis)


@dataclass(frozen=True)
class RocBand:
    fpr: np.ndarray = field(repr=False)  # the pooled ROC itself
    tpr: np.ndarray = field(repr=False)
    specificities: np.ndarray = field(repr=False)  # the grid the band is read at (descending 1 -> 0)
    lower: np.ndarray = field(repr=False)
    median: np.ndarray = field(repr=False)
    upper: np.ndarray = field(repr=False)
    auc: float
    auc_ci: tuple[float, float]
    n_boot: int
    conf_level: float
    n_positive: int
    n_negative: int
    resampled: str = "photos"  # the bootstrap's unit: "photos", or "children" (cluster bootstrap)
    _replicates: tuple = field(default=(), repr=False)  # (fpr, tpr) of each replicate, for band_at

    def band_at(self, specificity: float) -> tuple[float, float]:
        """The band's (lower, upper) sensitivity at any specificity, from the replicates themselves."""
        se = np.array([sensitivity_at(f, t, specificity)[0] for f, t in self._replicates])
        lo, hi = percentile_interval(se, self.conf_level)
        return float(lo), float(hi)

    def to_dict(self) -> dict:
        return {
            "auc": self.auc,
            "auc_ci": list(self.auc_ci),
            "n_boot": self.n_boot,
            "conf_level": self.conf_level,
            "n_positive": self.n_positive,
            "n_negative": self.n_negative,
            "resampled": self.resampled,
            "band": {
                "specificity": self.specificities.round(4).tolist(),
                "lower": self.lower.round(4).tolist(),
                "median": self.median.round(4).tolist(),
                "upper": self.upper.round(4).tolist(),
            },
        }


def _resampler(y: np.ndarray, clusters) -> tuple:
    """``draw(rng) -> photo indices`` of one stratified replicate, and whether children are the unit.

    Without ``clusters`` (or with one photo per child) photos are drawn, positives and negatives
    apart, as pROC does. With several photos per child, children are drawn (positive and negative
    children apart) and bring all their photos: the cluster bootstrap (Davison & Hinkley 1997, §3.8).
    Photos of one child are not independent; drawing them one by one makes the band and the AUC
    interval too narrow (half as wide with 4 photos per child)."""
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if clusters is None:
        return (lambda rng: np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])), False
    c = np.asarray(clusters, dtype=object).astype(str)
    if c.shape != y.shape:
        raise ValueError(f"expected one child id per photo, got {c.shape} for {y.shape}")
    ids, first, child = np.unique(c, return_index=True, return_inverse=True)
    rank = np.empty(len(ids), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(ids))
    ids, child = ids[np.argsort(first, kind="stable")], rank[child]  # children numbered as they first appear
    if len(ids) == len(y):  # one photo per child: the ordinary bootstrap, drawn identically
        return _resampler(y, None)
    mixed = [ids[k] for k in range(len(ids)) if len(np.unique(y[child == k])) > 1]
    if mixed:
        raise ValueError(f"child {mixed[0]} has photos of both classes; a child carries one label")
    order = np.argsort(child, kind="stable")
    members = np.split(order, np.flatnonzero(np.diff(child[order])) + 1)  # photo indices per child
    label = np.array([y[m[0]] for m in members])
    kids_pos, kids_neg = np.flatnonzero(label == 1), np.flatnonzero(label == 0)

    def draw(rng):
        kids = np.concatenate([rng.choice(kids_pos, len(kids_pos)), rng.choice(kids_neg, len(kids_neg))])
        return np.concatenate([members[k] for k in kids])

    return draw, True


def bootstrap_roc_band(
    y_true,
    scores,
    n_boot: int = 2000,
    conf_level: float = 0.95,
    seed: int = 0,
    specificities: np.ndarray | None = None,
    clusters=None,
) -> RocBand:
    """``clusters``: each photo's child (subject id); children become the resampled unit when some
    child has several photos."""
    y = np.asarray(y_true, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    if n_boot < MIN_BOOTSTRAP:
        raise ValueError(f"use at least {MIN_BOOTSTRAP} bootstrap resamples (pROC's default is 2000), got {n_boot}")
    if not 0.5 < conf_level < 1.0:
        raise ValueError(f"conf_level must be in (0.5, 1), got {conf_level}")
    grid = np.linspace(1.0, 0.0, 101) if specificities is None else np.asarray(specificities, dtype=np.float64)
    fpr, tpr, _ = roc_curve_points(y, s)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    draw, by_child = _resampler(y, clusters)
    rng = np.random.default_rng(seed)
    reps, se, aucs = [], np.empty((n_boot, len(grid))), np.empty(n_boot)
    for b in range(n_boot):
        idx = draw(rng)  # stratified
        f, t, _ = roc_curve_points(y[idx], s[idx])
        reps.append((f, t))
        se[b] = sensitivity_at(f, t, grid)
        aucs[b] = roc_auc(y[idx], s[idx])
    (lo, hi), (auc_lo, auc_hi) = percentile_interval(se, conf_level, axis=0), percentile_interval(aucs, conf_level)
    return RocBand(
        fpr=fpr,
        tpr=tpr,
        specificities=grid,
        lower=lo,
        median=np.quantile(se, 0.5, axis=0),
        upper=hi,
        auc=roc_auc(y, s),
        auc_ci=(float(auc_lo), float(auc_hi)),
        n_boot=n_boot,
        conf_level=conf_level,
        n_positive=len(pos),
        n_negative=len(neg),
        resampled="children" if by_child else "photos",
        _replicates=tuple(reps),
    )
