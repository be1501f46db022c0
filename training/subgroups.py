"""Screening performance per subgroup of children (age band, sex, syndrome, any manifest column).

Computed on the pooled test predictions, each photo at its own fold's threshold. Every row carries
its counts per class; sensitivity and specificity carry Wilson intervals and the AUC Newcombe's
score interval (DeLong's normal interval collapses to "1.000 (1.000-1.000)" for a small separated
subgroup and covers a true AUC of 0.95 only 46% of the time with 5 children per class). A
subgroup with fewer than ``min_per_class`` positives or negatives is marked too small to judge:
its figures are shown (they are what happened) but no conclusion should be drawn from them.

Syndromes are a property of the positives only, so a syndrome's row compares that syndrome's
children with all the negatives (its specificity is the cohort's, and is not repeated).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .comparisons import newcombe_auc_ci, wilson_interval
from .metrics import metrics_from_calls

UNKNOWN = "(not given)"


@dataclass(frozen=True)
class SubgroupRow:
    attribute: str
    group: str
    n: int
    n_positive: int
    n_negative: int
    sensitivity: float
    sensitivity_ci: tuple[float, float]
    specificity: float
    specificity_ci: tuple[float, float]
    auc: float
    auc_ci: tuple[float, float]
    too_small: bool

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("sensitivity_ci", "specificity_ci", "auc_ci"):
            d[k] = list(d[k])
        return d


def age_band_labels(ages: list[float | None], edges: tuple[float, ...]) -> list[str]:
    """``[0, 24) months``-style labels from band edges in months; ages past the last edge get ``>= last``."""
    if list(edges) != sorted(edges) or len(set(edges)) != len(edges) or len(edges) < 2:
        raise ValueError(f"age band edges must be at least two increasing numbers of months, got {list(edges)}")
    out = []
    for a in ages:
        if a is None or (isinstance(a, float) and math.isnan(a)):
            out.append(UNKNOWN)
            continue
        k = int(np.searchsorted(edges, a, side="right")) - 1
        if k < 0:
            out.append(f"< {edges[0]:g} months")
        elif k >= len(edges) - 1:
            out.append(f">= {edges[-1]:g} months")
        else:
            out.append(f"{edges[k]:g}-{edges[k + 1]:g} months")
    return out


def _row(
    attribute: str,
    group: str,
    y: np.ndarray,
    scores: np.ndarray,
    flags: np.ndarray,
    min_per_class: int,
    conf_level: float,
    show_specificity: bool = True,
) -> SubgroupRow:
    m = metrics_from_calls(y, flags)
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    sens_ci = wilson_interval(m.tp, m.tp + m.fn, conf_level)
    spec_ci = wilson_interval(m.tn, m.tn + m.fp, conf_level) if show_specificity else (math.nan, math.nan)
    auc, auc_ci = math.nan, (math.nan, math.nan)
    if n_pos >= 1 and n_neg >= 1:
        a = newcombe_auc_ci(y, scores, conf_level)
        auc, auc_ci = a.auc, (a.lower, a.upper)
    nan = math.nan
    return SubgroupRow(
        attribute,
        group,
        len(y),
        n_pos,
        n_neg,
        m.sensitivity if n_pos else nan,
        sens_ci,
        (m.specificity if n_neg else nan) if show_specificity else nan,
        spec_ci,
        auc,
        auc_ci,
        n_pos < min_per_class or n_neg < min_per_class,
    )


def subgroup_table(
    y_true,
    scores,
    flags,
    attributes: dict[str, list[str]],
    syndromes: list[str] | None = None,
    min_per_class: int = 10,
    conf_level: float = 0.95,
) -> list[SubgroupRow]:
    """One row per (attribute, group) for the photos' ``attributes`` (name -> one value per photo),
    then one row per syndrome (``syndromes``: each photo's syndrome, empty for negatives)."""
    y = np.asarray(y_true, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    f = np.asarray(flags, dtype=np.int64)
    rows = []
    for name, values in attributes.items():
        v = np.array([x if x else UNKNOWN for x in values], dtype=object)
        if len(v) != len(y):
            raise ValueError(f"attribute {name!r} has {len(v)} values for {len(y)} photos")
        for g in sorted(set(v.tolist()), key=lambda g: (g == UNKNOWN, g)):
            idx = v == g
            rows.append(_row(name, g, y[idx], s[idx], f[idx], min_per_class, conf_level))
    if syndromes is not None:
        syn = np.array([x or "" for x in syndromes], dtype=object)
        neg = y == 0
        for g in sorted({x for x, lab in zip(syn.tolist(), y.tolist()) if lab == 1 and x}):
            idx = ((syn == g) & (y == 1)) | neg
            rows.append(_row("syndrome", g, y[idx], s[idx], f[idx], min_per_class, conf_level, show_specificity=False))
    return rows


def multiple_comparison_note(rows: list[SubgroupRow] | list[dict], conf_level: float) -> str | None:
    """A warning when several subgroups are judged at once: each interval alone holds at
    ``conf_level``, but among k of them about k x (1 - conf_level) miss by chance."""
    k = sum(1 for r in rows if not (r["too_small"] if isinstance(r, dict) else r.too_small))
    if k < 2:
        return None
    alpha = 1.0 - conf_level
    return (
        f"{k} subgroups are large enough to judge; each interval holds at {conf_level:.0%} on its own, so "
        f"about {k * alpha:.2g} of them would exclude the truth by chance alone. A difference between "
        f"subgroups is a hypothesis to test on new children, not a finding (Bonferroni: read each at "
        f"{1 - alpha / k:.1%} to keep {conf_level:.0%} jointly)."
    )
