"""The one home of ROC AUC, of the agreement between two runs of one screener, of the Wilson
interval of a proportion, of the score-distribution drift statistic (PSI) and of the parity gate's
rule (:class:`ParityThresholds`, :func:`gate_problems`: the converters' gate and tablet-export's).

Training (validation monitoring, fold metrics, the bootstrap band), the converters' parity gate and
the benchmark's parity columns all read these, so a converted artifact, a benchmark row and a
training report mean the same thing by "AUC" and by "flag agreement".

Why here and not scikit-learn: the converters and the benchmark run on a Jetson or a tablet where
only ``facescreen[edge]`` is installed, and edge imports nothing above numpy. The AUC below is the
exact Mann-Whitney statistic (ties count one half), which is what ``sklearn.metrics.roc_auc_score``
computes; ``tests/edge/test_metrics.py`` pins the two against each other on tied scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from .postprocess import flagged, screening_probability


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve of ``scores`` for binary ``labels`` (1/True = positive): the
    probability that a positive scores above a negative, ties counting one half. NaN when one class
    is absent (the AUC is undefined, not 0.5)."""
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.shape != y.shape:
        raise ValueError(f"expected labels and scores of one shape (N,), got {y.shape} and {s.shape}")
    if y.dtype != bool:
        if not np.isin(y, (0, 1)).all():
            raise ValueError(f"expected 0/1 labels, got values {np.unique(y)[:5]}")
        y = y.astype(bool)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    # average rank (1-based) of each distinct score: the ranks it spans, averaged over its ties
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)
    mean_rank = last - (counts - 1) / 2.0
    rank_sum = float(mean_rank[inverse][y].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


@dataclass(frozen=True)
class Agreement:
    """How an artifact's outputs agree with a reference run of the same model on the same faces."""

    n_faces: int
    max_abs_prob_diff: float  # over every class probability of every face
    mean_abs_prob_diff: float
    max_abs_screening_diff: float  # summed positive-class probability
    flag_agreement: float  # fraction of faces with the same screening flag
    n_flag_disagreements: int
    disagreement_margin: float | None  # largest |p_reference - threshold| among faces whose flag changed
    auc_reference: float | None  # None without labels of both classes
    auc_artifact: float | None
    auc_diff: float | None  # artifact minus reference


def agreement(
    reference: np.ndarray,
    other: np.ndarray,
    positive: list[int],
    threshold: float,
    labels=None,
    temperature: float = 1.0,
) -> Agreement:
    """Compare class probabilities ``(N, K)`` of ``other`` with ``reference``; with binary ``labels``
    (1 = a positive class) also each one's AUC. Screening probabilities (and so flags) are taken after
    ``temperature``, the model card's calibration, as the Screener applies it."""
    ref = np.asarray(reference, dtype=np.float64)
    got = np.asarray(other, dtype=np.float64)
    if ref.shape != got.shape or ref.ndim != 2:
        raise ValueError(f"expected two (N, K) probability arrays of one shape, got {ref.shape} and {got.shape}")
    p_ref = screening_probability(ref, positive, temperature)
    p_got = screening_probability(got, positive, temperature)
    same = flagged(p_ref, threshold) == flagged(p_got, threshold)
    diff = np.abs(got - ref)
    auc_ref = auc_got = auc_diff = None
    if labels is not None:
        a, b = roc_auc(labels, p_ref), roc_auc(labels, p_got)
        if np.isfinite(a) and np.isfinite(b):
            auc_ref, auc_got, auc_diff = a, b, b - a
    return Agreement(
        n_faces=len(ref),
        max_abs_prob_diff=float(diff.max()),
        mean_abs_prob_diff=float(diff.mean()),
        max_abs_screening_diff=float(np.abs(p_got - p_ref).max()),
        flag_agreement=float(same.mean()),
        n_flag_disagreements=int((~same).sum()),
        disagreement_margin=float(np.abs(p_ref[~same] - threshold).max()) if (~same).any() else None,
        auc_reference=auc_ref,
        auc_artifact=auc_got,
        auc_diff=auc_diff,
    )


DEFAULT_MIN_AGREEMENT = 0.99


@dataclass(frozen=True)
class ParityThresholds:
    """The parity gate every artifact passes before it is offered: the converters' (each converted
    screener against Keras) and the tablet app's (the browser against the same artifact in Python)."""

    min_agreement: float = DEFAULT_MIN_AGREEMENT  # fraction of held-out faces with the same flag
    max_prob_diff: float | None = None  # optional extra gate on max |p_artifact - p_reference|

    def __post_init__(self) -> None:
        if not 0.0 < self.min_agreement <= 1.0:
            raise ValueError(f"min_agreement must be in (0, 1], got {self.min_agreement}")
        if self.max_prob_diff is not None and not 0.0 < self.max_prob_diff <= 1.0:
            raise ValueError(f"max_prob_diff must be in (0, 1], got {self.max_prob_diff}")


def gate_problems(a: Agreement, gates: ParityThresholds, threshold: float, reference: str = "Keras") -> list[str]:
    """Why ``a`` fails the gate (empty: it passes). The verdict is screening-flag agreement, because
    that is what a clinic acts on; the probability gate only when one is asked for."""
    problems = []
    if a.flag_agreement < gates.min_agreement:
        problems.append(
            f"flag agreement {a.flag_agreement:.1%} is below the required {gates.min_agreement:.1%} "
            f"({a.n_flag_disagreements} of {a.n_faces} held-out faces change flag; the {reference} screening "
            f"probability of those faces is within {a.disagreement_margin:.2g} of the threshold {threshold:.4g})"
        )
    if gates.max_prob_diff is not None and a.max_abs_prob_diff > gates.max_prob_diff:
        problems.append(f"max |probability difference| {a.max_abs_prob_diff:.4f} exceeds {gates.max_prob_diff}")
    return problems


def wilson_interval(k: int, n: int, conf_level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n`` ((nan, nan) for n = 0). The normal quantile
    comes from the standard library, so the kiosk computes it without scipy; the training tests pin
    it against scipy's ``binomtest(...).proportion_ci(method="wilson")``."""
    if n == 0:
        return float("nan"), float("nan")
    z = NormalDist().inv_cdf(0.5 + conf_level / 2.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


SCORE_BINS = 10  # equal-width bins of the screening probability in [0, 1]


def score_histogram(scores, labels, bins: int = SCORE_BINS) -> dict:
    """Counts of validation screening probabilities in ``bins`` equal-width bins of [0, 1], for the
    positive and the negative children apart: what a model card records, so that the field's score
    distribution can be compared with validation's *at the field's prevalence* (a mixture of the two),
    not with validation's own case mix."""
    s = np.clip(np.asarray(scores, dtype=float), 0.0, 1.0)
    y = np.asarray(labels).astype(bool)
    if s.shape != y.shape:
        raise ValueError(f"one label per score expected, got {y.shape} labels for {s.shape} scores")
    edges = np.linspace(0.0, 1.0, bins + 1)
    pos, _ = np.histogram(s[y], bins=edges)
    neg, _ = np.histogram(s[~y], bins=edges)
    return {
        "edges": [round(float(e), 6) for e in edges],
        "positive": [int(c) for c in pos],
        "negative": [int(c) for c in neg],
    }


PSI_ALARM = 0.25  # the usual reading of the population stability index: < 0.1 stable, 0.1-0.25 moderate, > 0.25 shifted


def population_stability_index(reference_counts, field_counts, floor: float = 1e-4) -> float:
    """PSI = sum over bins of (field% - reference%) * ln(field% / reference%), both histograms over the
    same bins. Empty bins are floored at ``floor`` (a fraction) so one empty bin does not make it infinite."""
    ref = np.asarray(reference_counts, dtype=float)
    fld = np.asarray(field_counts, dtype=float)
    if ref.shape != fld.shape or ref.sum() == 0 or fld.sum() == 0:
        raise ValueError(f"PSI needs two non-empty histograms over the same bins, got {ref.shape} and {fld.shape}")
    r = np.maximum(ref / ref.sum(), floor)
    f = np.maximum(fld / fld.sum(), floor)
    return float(np.sum((f - r) * np.log(f / r)))


PSI_CHANCE_QUANTILE = 0.99  # the drift alarm's bar for sampling alone: 1 group in 100 without drift


def psi_by_chance(reference_counts, n: int, quantile: float = PSI_CHANCE_QUANTILE, draws: int = 2000) -> float:
    """The PSI that ``n`` scores drawn from the reference distribution itself stay under in
    ``quantile`` of draws (multinomial draws, a fixed seed: the same figure every time). Sampling alone
    moves a small sample's histogram a long way (with 10 bins, 30 scores without any drift commonly
    give PSI 0.5), so a drift alarm on a small group needs PSI above this as well as above PSI_ALARM."""
    ref = np.asarray(reference_counts, dtype=float)
    if n < 1 or ref.sum() == 0:
        raise ValueError(f"PSI by chance needs n >= 1 and a non-empty reference, got n={n}")
    samples = np.random.default_rng(0).multinomial(n, ref / ref.sum(), size=draws)
    return float(np.quantile([population_stability_index(ref, c) for c in samples], quantile))
