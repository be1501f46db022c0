"""The screening threshold, chosen on the validation split only (never on test data).

``youden``: maximise Youden's J = sensitivity + specificity - 1 over the validation scores. The
threshold is placed midway between the lowest flagged score and the next lower score, so it is
not glued to one validation photo (a threshold equal to a sample's score would flip with the
smallest change in it). Ties in J go to the lower threshold: higher sensitivity, as a screen wants.
``fixed``: a value the user gives (default 0.5).
``sensitivity``: the highest threshold whose validation sensitivity is at least ``target`` (a
screen's policy: "catch 90% of syndromic children", then as specific as that allows).
``specificity``: the lowest threshold whose validation specificity is at least ``target``.

Candidates are decided on the exact ranks of the validation scores (see :func:`_cuts`). When a
target cannot be reached by any threshold in (0, 1) (several photos of the wrong class scoring
exactly 0 or 1), the closest one is taken and the choice says ``target_met=False``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facescreen.edge.postprocess import flagged
from facescreen.edge.registry import Registry

from .metrics import confusion


@dataclass(frozen=True)
class ThresholdConfig:
    rule: str = "youden"
    value: float = 0.5  # the threshold of the "fixed" rule
    target: float = 0.9  # the validation sensitivity / specificity of those rules

    def __post_init__(self) -> None:
        THRESHOLD_RULES.get(self.rule)  # raises with the valid names
        if not 0.0 < self.value < 1.0:
            raise ValueError(f"threshold value must be in (0, 1), got {self.value}")
        if not 0.0 < self.target <= 1.0:
            raise ValueError(f"threshold target must be in (0, 1], got {self.target}")

    @property
    def policy(self) -> str:
        """The rule in words, for the report and the model card."""
        return {
            "youden": "maximise Youden's J (sensitivity + specificity - 1) on the validation split",
            "fixed": f"fixed at {self.value:g}",
            "sensitivity": f"highest threshold with validation sensitivity >= {self.target:g}",
            "specificity": f"lowest threshold with validation specificity >= {self.target:g}",
        }[self.rule]


@dataclass(frozen=True)
class ThresholdChoice:
    value: float
    rule: str
    validation_sensitivity: float
    validation_specificity: float
    n_validation: int
    # False when no threshold in (0, 1) reaches the rule's target on validation (several photos of the
    # wrong class scoring exactly 1.0 or 0.0); the threshold is then the one that comes closest
    target_met: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.value < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {self.value}")

    def to_dict(self) -> dict:
        return {
            "value": self.value,
            "rule": self.rule,
            "validation_sensitivity": self.validation_sensitivity,
            "validation_specificity": self.validation_specificity,
            "n_validation": self.n_validation,
            "target_met": self.target_met,
        }


def _sens_spec(y: np.ndarray, s: np.ndarray, t: float) -> tuple[float, float]:
    tp, fp, tn, fn = confusion(y, flagged(s, t).astype(np.int64))
    return tp / max(tp + fn, 1), tn / max(tn + fp, 1)


def _cuts(y: np.ndarray, s: np.ndarray, what: str) -> np.ndarray:
    """Candidate thresholds, ascending, one per way of splitting the distinct scores by rank: below
    all scores, in each gap between neighbours, above all scores.

    Each sits strictly inside its gap, so it flags exactly the photos ranked above the gap and no
    other; a split that no threshold in (0, 1) can make is no candidate (flagging no one when a photo
    scores exactly 1.0, or everyone when one scores exactly 0.0: float32 softmax saturates). Never
    clipped: moving a threshold into the next gap would change which photos it flags."""
    if y.sum() == 0 or y.sum() == len(y):
        raise ValueError(f"{what} needs both classes in the validation split")
    distinct = np.unique(s)  # ascending
    lows = np.r_[-np.inf, distinct]  # each gap runs from lows[k] (not flagged) to highs[k] (flagged)
    highs = np.r_[distinct, np.inf]
    cuts = []
    for lo, hi in zip(lows, highs):
        t = (max(lo, 0.0) + min(hi, 1.0)) / 2.0
        if not lo < t <= hi:  # neighbours one float apart: the upper score itself splits them
            t = hi
        if lo < t <= hi and 0.0 < t < 1.0:
            cuts.append(t)
    return np.asarray(cuts, dtype=np.float64)


def _nearest_to_target(y: np.ndarray, s: np.ndarray, cuts: np.ndarray, which: int, target: float, pick) -> float:
    """``pick`` among the cuts whose validation sensitivity (``which`` 0) or specificity (1) reaches
    ``target``; when none does (saturated scores), the cut that comes closest."""
    got = np.array([_sens_spec(y, s, t)[which] for t in cuts])
    ok = cuts[got >= target]
    if len(ok):
        return float(pick(ok))
    best = got.max()
    return float(pick(cuts[got == best]))


def youden_threshold(y_val: np.ndarray, scores_val: np.ndarray, cfg: ThresholdConfig) -> float:
    y = np.asarray(y_val, dtype=np.int64)
    s = np.asarray(scores_val, dtype=np.float64)
    cuts = _cuts(y, s, "Youden's J")
    best_j, best_t = -np.inf, None
    for t in cuts:  # ascending, so ">" keeps the lowest threshold among ties
        sens, spec = _sens_spec(y, s, t)
        if sens + spec - 1.0 > best_j + 1e-12:
            best_j, best_t = sens + spec - 1.0, t
    return float(best_t)


def fixed_threshold(y_val: np.ndarray, scores_val: np.ndarray, cfg: ThresholdConfig) -> float:
    return float(cfg.value)


def sensitivity_threshold(y_val: np.ndarray, scores_val: np.ndarray, cfg: ThresholdConfig) -> float:
    y = np.asarray(y_val, dtype=np.int64)
    s = np.asarray(scores_val, dtype=np.float64)
    return _nearest_to_target(y, s, _cuts(y, s, "a target sensitivity"), 0, cfg.target, np.max)


def specificity_threshold(y_val: np.ndarray, scores_val: np.ndarray, cfg: ThresholdConfig) -> float:
    y = np.asarray(y_val, dtype=np.int64)
    s = np.asarray(scores_val, dtype=np.float64)
    return _nearest_to_target(y, s, _cuts(y, s, "a target specificity"), 1, cfg.target, np.min)


THRESHOLD_RULES: Registry[float] = Registry("threshold rule")
THRESHOLD_RULES.register("youden", youden_threshold)
THRESHOLD_RULES.register("fixed", fixed_threshold)
THRESHOLD_RULES.register("sensitivity", sensitivity_threshold)
THRESHOLD_RULES.register("specificity", specificity_threshold)


def select_threshold(cfg: ThresholdConfig, y_val: np.ndarray, scores_val: np.ndarray) -> ThresholdChoice:
    """Choose the threshold from validation labels and scores (the only data it is ever given)."""
    y = np.asarray(y_val, dtype=np.int64)
    s = np.asarray(scores_val, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1 or y.size == 0:
        raise ValueError(f"expected equal-length 1-D validation labels and scores, got {y.shape} and {s.shape}")
    t = THRESHOLD_RULES.get(cfg.rule)(y, s, cfg)
    sens, spec = _sens_spec(y, s, t)
    rule = cfg.rule if cfg.rule in ("youden", "fixed") else f"{cfg.rule}>={cfg.target:g}"
    met = {"sensitivity": sens >= cfg.target, "specificity": spec >= cfg.target}.get(cfg.rule, True)
    return ThresholdChoice(
        value=t,
        rule=rule,
        validation_sensitivity=sens,
        validation_specificity=spec,
        n_validation=int(y.size),
        target_met=bool(met),
    )


def widest_gap_threshold(scores: np.ndarray, middle: float = 0.6) -> float:
    """The midpoint of the widest gap between neighbouring scores in their middle ``middle`` share by
    rank. Not a screening rule (it reads no labels): the threshold of a model whose threshold only has
    to exercise flag parity (the benchmark bundle; the fixture bundles of the converters', the tablet's and
    the runtime matrix's tests).
    Some faces are flagged and some not, and the faces stand as far from it as the scores allow: a
    conversion changes a flag only where it moves a score by more than half the gap. A threshold
    where the scores crowd (the median of a saturating softmax) flips flags on int8 noise alone."""
    s = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    lo, hi = int(len(s) * (1 - middle) / 2), int(len(s) * (1 + middle) / 2)
    gaps = np.diff(s[lo : hi + 1])
    if gaps.size == 0 or gaps.max() <= 0:
        raise ValueError(f"no gap between the middle {middle:.0%} of {len(s)} scores")
    i = lo + int(np.argmax(gaps))
    return float((s[i] + s[i + 1]) / 2)
