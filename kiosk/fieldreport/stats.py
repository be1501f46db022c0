"""The field figures of one group of screenings, and the alarms they raise.

PPV alarm: validation's sensitivity and specificity (their 95% Wilson intervals, from the model card's
validation confusion counts) predict a PPV range at the field's prevalence; the alarm is raised when the
field PPV's 95% Wilson interval lies wholly outside that range. The field's prevalence is the programme's
figure when given (--prevalence), else estimated from the flag rate with the Rogan-Gladen estimator
(prevalence = (flag rate + specificity - 1) / (sensitivity + specificity - 1), clipped to [0, 1]).

Drift alarm: the population stability index (PSI) of the field's screening probabilities against
validation's, where validation's histogram is mixed at the field's prevalence from the card's per-class
histograms; PSI >= 0.25 (edge.metrics.PSI_ALARM, the customary "major shift") raises the alarm when it
is also above what sampling alone gives at the group's size (edge.metrics.psi_by_chance: the PSI that
99 in 100 samples of that many scores drawn from validation's own distribution stay under). Without
that second bar small sites raised false drift alarms: on the synthetic field of
tests/kiosk/test_kiosk_field_report.py without drift, 174 of 200 sites of 30 screenings and 114 of 200
of 50; with it, 6 and 7 (measured once, not asserted: above the nominal 1 in 100 because the reference
is mixed at a prevalence estimated from the same screenings).

Quality refusals: the rate of photos refused for their quality among the photos sent where a photo
is either screened or refused (the single-photo API: kiosk.store.REFUSING_SOURCES), with its 95% Wilson
interval and the failed measures. The model card records no refusal rate at validation (REFERENCE_NOTE),
so the alarm compares the field with itself: the last ``recent_days`` (ending at the report's latest
photo) against everything before; the alarm is raised when the recent rate's 95% Wilson interval lies
wholly above the earlier rate's.

Calibration and PPV use only referrals that were completed (a genetic evaluation gave an answer): a
child who was not flagged is seldom evaluated, so these figures describe the flagged children only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from facescreen.edge.metrics import PSI_ALARM, population_stability_index, psi_by_chance, wilson_interval

from ..store import REFUSING_SOURCES

CALIBRATION_BINS = 5
RECENT_DAYS = 28  # the quality-refusal alarm's recent window: four weeks, a camera or a room that changed
REFERENCE_NOTE = (
    "the model card records no quality-refusal rate at validation: training never runs the kiosk's "
    "capture-quality measures (they live in kiosk/quality, above training) and its photos are curated, "
    "not captured, so the field's refusal rate is judged against its own earlier weeks"
)


@dataclass(frozen=True)
class Validation:
    """What the model card says its validation measured (None where the card lacks it)."""

    sensitivity: tuple[float, float, float] | None  # estimate, 95% low, high
    specificity: tuple[float, float, float] | None
    histogram: dict | None  # edge.metrics.score_histogram

    @classmethod
    def from_metrics(cls, metrics: dict) -> Validation:
        v = metrics.get("validation") or {}
        sens = spec = None
        if all(k in v for k in ("tp", "fn", "tn", "fp")):
            tp, fn, tn, fp = (int(v[k]) for k in ("tp", "fn", "tn", "fp"))
            if tp + fn and tn + fp:
                sens = (tp / (tp + fn), *wilson_interval(tp, tp + fn))
                spec = (tn / (tn + fp), *wilson_interval(tn, tn + fp))
        hist = metrics.get("validation_score_histogram")
        if hist is not None and not {"edges", "positive", "negative"} <= set(hist):
            hist = None
        return cls(sens, spec, hist)


def ppv(sens: float, spec: float, prevalence: float) -> float:
    tp = sens * prevalence
    fp = (1.0 - spec) * (1.0 - prevalence)
    return tp / (tp + fp) if tp + fp > 0 else float("nan")


def rogan_gladen(flag_rate: float, sens: float, spec: float) -> float:
    j = sens + spec - 1.0
    if j <= 0:
        return float("nan")
    return min(1.0, max(0.0, (flag_rate + spec - 1.0) / j))


def _predicted_range(v: Validation, n_flagged: int, n: int, prevalence: float | None) -> tuple[float, float]:
    """The PPV range validation allows: over the corners of the sensitivity and specificity 95%
    intervals and, when the prevalence is estimated, of the flag rate's 95% interval too (each corner
    with its own Rogan-Gladen prevalence; at low prevalence that estimate moves a lot with specificity)."""
    assert v.sensitivity is not None and v.specificity is not None  # the caller checked
    sens, spec = v.sensitivity[1:], v.specificity[1:]
    rates: tuple[float | None, ...] = wilson_interval(n_flagged, n) if prevalence is None else (None,)
    values = []
    for a in sens:
        for b in spec:
            for f in rates:
                p = rogan_gladen(f, a, b) if f is not None else prevalence
                if p is not None and not math.isnan(p):
                    values.append(ppv(a, b, p))
    values = [x for x in values if not math.isnan(x)]
    return (min(values), max(values)) if values else (float("nan"), float("nan"))


@dataclass
class GroupFigures:
    name: str
    n_screened: int
    n_flagged: int
    n_completed: int  # flagged, and a genetic evaluation answered (confirmed or no syndrome)
    n_confirmed: int
    n_lost: int
    completion: tuple[float, float, float] | None
    ppv: tuple[float, float, float] | None
    prevalence: float | None = None
    prevalence_source: str = ""
    predicted_ppv: tuple[float, float, float] | None = None
    psi: float | None = None
    psi_by_chance: float | None = None  # what sampling alone gives at this group's size (99 in 100)
    field_histogram: list[int] = field(default_factory=list)
    reference_histogram: list[float] = field(default_factory=list)
    calibration: list[dict] = field(default_factory=list)
    n_single_photos: int = 0  # sent where a photo is screened or refused (kiosk.store.REFUSING_SOURCES)
    n_refused: int = 0
    refusal_rate: tuple[float, float, float] | None = None
    refusal_reasons: dict[str, int] = field(default_factory=dict)  # instruction key -> refusals
    refusal_recent: tuple[float, float, float] | None = None  # the last recent_days
    refusal_before: tuple[float, float, float] | None = None
    not_assessed: list[str] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rate(k: int, n: int) -> tuple[float, float, float] | None:
    return (k / n, *wilson_interval(k, n)) if n else None


def _refusal_figures(
    g: GroupFigures, rows: list[dict[str, Any]], refusals: list[dict[str, Any]], recent_from: str
) -> None:
    """The group's quality-refusal rate, overall and recent against before. ``recent_from``: an ISO time
    in the store's form (UTC, milliseconds), so it compares with ``created_at`` as text."""
    photos = [(r["created_at"], False) for r in rows if r.get("source") in REFUSING_SOURCES]
    photos += [(r["created_at"], True) for r in refusals]
    g.n_single_photos, g.n_refused = len(photos), len(refusals)
    g.refusal_rate = _rate(len(refusals), len(photos))
    for r in refusals:
        key = r["instruction"] or "unknown"
        g.refusal_reasons[key] = g.refusal_reasons.get(key, 0) + 1
    if not photos:
        g.not_assessed.append("quality refusals: no single photos (POST /v1/screen) in this group")
        return
    recent = [refused for t, refused in photos if t >= recent_from]
    before = [refused for t, refused in photos if t < recent_from]
    g.refusal_recent, g.refusal_before = _rate(sum(recent), len(recent)), _rate(sum(before), len(before))
    if g.refusal_recent is None or g.refusal_before is None:
        g.not_assessed.append("quality-refusal trend: single photos only within, or only before, the recent window")
        return
    if g.refusal_recent[1] > g.refusal_before[2]:
        g.alarms.append(
            f"{g.name}: quality refusals rose to {g.refusal_recent[0]:.2f} (95% CI {g.refusal_recent[1]:.2f}-"
            f"{g.refusal_recent[2]:.2f}, {sum(recent)}/{len(recent)}) in the recent window from "
            f"{g.refusal_before[0]:.2f} (95% CI {g.refusal_before[1]:.2f}-{g.refusal_before[2]:.2f}) before it"
        )


def group_figures(
    name: str,
    rows: list[dict[str, Any]],
    outcomes: dict[str, str],
    validation: Validation | None,
    prevalence: float | None = None,
    refusals: list[dict[str, Any]] | None = None,
    recent_from: str | None = None,
) -> GroupFigures:
    """``rows``: store rows; ``outcomes``: result id -> latest outcome; ``validation``: the card's
    figures when the group has one model version (None: no prediction, said so); ``refusals``: the
    store's quality refusals of the group (None: not available, said so) and ``recent_from`` the ISO
    time where the recent window of their trend starts."""
    flagged = [r for r in rows if r["flag"]]
    answer = {r["id"]: outcomes.get(r["id"]) for r in rows}
    completed = [r for r in flagged if answer[r["id"]] in ("confirmed_syndrome", "no_syndrome")]
    confirmed = [r for r in completed if answer[r["id"]] == "confirmed_syndrome"]
    g = GroupFigures(
        name=name,
        n_screened=len(rows),
        n_flagged=len(flagged),
        n_completed=len(completed),
        n_confirmed=len(confirmed),
        n_lost=sum(1 for r in flagged if answer[r["id"]] == "lost_to_follow_up"),
        completion=_rate(len(completed), len(flagged)),
        ppv=_rate(len(confirmed), len(completed)),
    )
    # calibration among evaluated children (flagged or not): mean shipped probability vs confirmed rate
    evaluated = [r for r in rows if answer[r["id"]] in ("confirmed_syndrome", "no_syndrome")]
    edges = np.linspace(0, 1, CALIBRATION_BINS + 1)
    for lo, hi in zip(edges[:-1], edges[1:]):
        b = [r for r in evaluated if lo <= r["probability"] < hi or (hi == 1.0 and r["probability"] == 1.0)]
        if b:
            k = sum(answer[r["id"]] == "confirmed_syndrome" for r in b)
            g.calibration.append(
                {
                    "bin": [round(float(lo), 2), round(float(hi), 2)],
                    "n": len(b),
                    "mean_probability": float(np.mean([r["probability"] for r in b])),
                    "observed": k / len(b),
                    "observed_ci": list(wilson_interval(k, len(b))),
                }
            )
    if refusals is None or recent_from is None:
        g.not_assessed.append(
            "quality refusals: not recorded where these results were read (a kiosk's store keeps them)"
        )
    else:
        _refusal_figures(g, rows, refusals, recent_from)
    if validation is None:
        g.not_assessed.append("PPV prediction and drift: this group mixes model versions (see each version's group)")
        return g
    if validation.sensitivity is None:
        g.not_assessed.append("PPV prediction: the model card has no validation confusion counts (tp, fn, tn, fp)")
    if validation.histogram is None:
        g.not_assessed.append("score drift: the model card has no validation_score_histogram")
    if validation.sensitivity is not None and validation.specificity is not None and rows:
        se, sp = validation.sensitivity[0], validation.specificity[0]
        if prevalence is not None:
            g.prevalence, g.prevalence_source = prevalence, "given (--prevalence)"
        else:
            g.prevalence = rogan_gladen(len(flagged) / len(rows), se, sp)
            g.prevalence_source = "estimated from the flag rate (Rogan-Gladen)"
        if not math.isnan(g.prevalence):
            g.predicted_ppv = (
                ppv(se, sp, g.prevalence),
                *_predicted_range(validation, len(flagged), len(rows), prevalence),
            )
            if g.ppv is not None and (g.ppv[2] < g.predicted_ppv[1] or g.ppv[1] > g.predicted_ppv[2]):
                g.alarms.append(
                    f"{name}: field PPV {g.ppv[0]:.2f} (95% CI {g.ppv[1]:.2f}-{g.ppv[2]:.2f}, "
                    f"{g.n_confirmed}/{g.n_completed}) is outside the {g.predicted_ppv[1]:.2f}-"
                    f"{g.predicted_ppv[2]:.2f} that validation predicts at prevalence {g.prevalence:.3f}"
                )
    if validation.histogram is not None and rows and g.prevalence is not None and not math.isnan(g.prevalence):
        h = validation.histogram
        pos = np.asarray(h["positive"], float)
        neg = np.asarray(h["negative"], float)
        if pos.sum() and neg.sum():
            ref = g.prevalence * pos / pos.sum() + (1 - g.prevalence) * neg / neg.sum()
            fld, _ = np.histogram([r["probability"] for r in rows], bins=np.asarray(h["edges"], float))
            g.psi = population_stability_index(ref, fld)
            g.psi_by_chance = psi_by_chance(ref, int(fld.sum()))
            g.field_histogram, g.reference_histogram = [int(c) for c in fld], [float(x) for x in ref]
            if g.psi >= PSI_ALARM and g.psi > g.psi_by_chance:
                g.alarms.append(
                    f"{name}: the screening probabilities have drifted from validation's "
                    f"(PSI {g.psi:.2f} >= {PSI_ALARM}, and above the {g.psi_by_chance:.2f} that sampling "
                    f"alone reaches with {int(fld.sum())} screenings)"
                )
            elif g.psi >= PSI_ALARM:
                g.not_assessed.append(
                    f"score drift: PSI {g.psi:.2f}, but {int(fld.sum())} screenings drawn from validation's own "
                    f"distribution reach {g.psi_by_chance:.2f} 1 time in 100: too few to tell drift from chance"
                )
    return g
