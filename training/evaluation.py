"""What a reviewer of a clinical prediction-model study asks after the ROC: calibration, the
operating point and its policy, subgroups, and paired comparisons on the same children (DeLong
against other runs' models, McNemar against each reader). Everything is computed from the pooled
test predictions, each photo scored by the fold that never saw it, at that fold's threshold.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facescreen.edge.postprocess import screening_probability

from .calibration import reliability
from .comparisons import delong_test, mcnemar_test, wilson_interval
from .config import ConfigError, TrainConfig
from .data.dataset import TrainingData
from .metrics import confusion
from .roc_band import RocBand, sensitivity_at
from .subgroups import age_band_labels, subgroup_table


class CompareError(ValueError):
    """Another run's predictions cannot be paired with this run's."""


@dataclass(frozen=True)
class Pooled:
    """The pooled test predictions in one order: indices into the data, labels, scores, flags."""

    idx: np.ndarray
    y: np.ndarray
    scores: np.ndarray
    raw_scores: np.ndarray  # without temperature scaling
    flags: np.ndarray


def pool(data: TrainingData, folds: list) -> Pooled:
    idx = np.concatenate([f.test_idx for f in folds])
    scores = np.concatenate([f.test_scores(data.positive) for f in folds])
    raw = np.concatenate([screening_probability(f.test_probs, data.positive) for f in folds])
    flags = np.concatenate([(f.test_scores(data.positive) >= f.threshold.value) for f in folds]).astype(np.int64)
    return Pooled(idx, data.y_binary[idx], scores, raw, flags)


def check_subgroup_columns(data: TrainingData, cfg: TrainConfig) -> None:
    """Fail before training when ``--subgroup COL`` names a column the manifest does not have."""
    if not cfg.evaluation.subgroups:
        return
    have = set().union(*(d.keys() for d in data.info)) if data.info else set()
    missing = [c for c in cfg.evaluation.subgroups if c not in have]
    if missing:
        columns = "no extra columns (a photo folder)"
        if have:
            columns = ", ".join(sorted(have - {"age_months"}) + ["age_months"])
        raise ConfigError(f"--subgroup {', '.join(missing)}: no such manifest column; the manifest has {columns}")


def calibration_summary(data: TrainingData, folds: list, p: Pooled, n_bins: int) -> dict:
    out = {
        "bins": n_bins,
        "pooled": reliability(p.y, p.scores, n_bins).to_dict(),
        "folds": [
            {
                "fold": f.index + 1,
                "temperature": f.t,
                "temperature_at_bound": bool(f.temperature and f.temperature.get("at_bound")),
                "temperature_fitted": (f.temperature or {}).get("fitted"),
                **reliability(data.y_binary[f.test_idx], f.test_scores(data.positive), n_bins).to_dict(),
            }
            for f in folds
        ],
    }
    if any(f.temperature for f in folds):
        out["pooled_without_temperature"] = reliability(p.y, p.raw_scores, n_bins).to_dict()
    return out


def operating_point(cfg: TrainConfig, p: Pooled, band: RocBand) -> dict:
    tp, fp, tn, fn = confusion(p.y, p.flags)
    spec = cfg.evaluation.fixed_specificity
    lo, hi = band.band_at(spec)
    return {
        "policy": cfg.threshold.policy,
        "rule": cfg.threshold.rule,
        "target": cfg.threshold.target if cfg.threshold.rule in ("sensitivity", "specificity") else None,
        "sensitivity": tp / max(tp + fn, 1),
        "sensitivity_ci": list(wilson_interval(tp, tp + fn)),
        "specificity": tn / max(tn + fp, 1),
        "specificity_ci": list(wilson_interval(tn, tn + fp)),
        "fixed_specificity": spec,
        "sensitivity_at_fixed_specificity": float(sensitivity_at(band.fpr, band.tpr, spec)[0]),
        "sensitivity_at_fixed_specificity_ci": [lo, hi],
        "bootstrap_resamples": band.n_boot,
    }


def subgroup_rows(data: TrainingData, cfg: TrainConfig, p: Pooled) -> list[dict]:
    if not data.info:
        return []
    info = [data.info[i] for i in p.idx]
    attributes: dict[str, list[str]] = {}
    if any(d.get("age_months") is not None for d in info):
        attributes["age band"] = age_band_labels([d.get("age_months") for d in info], cfg.evaluation.age_bands)
    if any(d.get("sex") for d in info):
        attributes["sex"] = [d.get("sex", "") for d in info]
    for col in cfg.evaluation.subgroups:
        attributes[col] = [str(d.get(col, "") or "") for d in info]
    syndromes = [d.get("syndrome", "") for d in info] if any(d.get("syndrome") for d in info) else None
    rows = subgroup_table(
        p.y, p.scores, p.flags, attributes, syndromes, cfg.evaluation.min_subgroup, cfg.evaluation.conf_level
    )
    return [r.to_dict() for r in rows]


def reader_mcnemar(reader_calls: list, p: Pooled) -> list[dict]:
    """Model (at each fold's threshold) against each reader, on the photos that reader called."""
    return [mcnemar_test(p.y[r.items], p.flags[r.items], r.calls, "model", r.reader_id).to_dict() for r in reader_calls]


def load_other_run(run_dir: str | Path) -> dict[str, float]:
    """Another run's pooled test scores by photo path (its ``predictions.csv``)."""
    path = Path(run_dir) / "predictions.csv"
    if not path.is_file():
        raise CompareError(f"--compare {run_dir}: no predictions.csv there (is it a finished facescreen-train run?)")
    with open(path, newline="") as f:
        return {r["path"]: float(r["score"]) for r in csv.DictReader(f) if r["split"] == "test"}


def compare_runs(
    data: TrainingData, p: Pooled, others: list[str | Path], name: str, conf_level: float = 0.95
) -> list[dict]:
    """DeLong's test of this run's pooled AUC against each other run's, on the same photos."""
    out = []
    paths = [data.paths[i] for i in p.idx]
    for other in others:
        theirs = load_other_run(other)
        missing = [q for q in paths if q not in theirs]
        if missing:
            raise CompareError(
                f"--compare {other}: {len(missing)} of this run's {len(paths)} test photos were not "
                f"scored there (e.g. {missing[0]}); DeLong's test needs the same children in both"
            )
        r = delong_test(p.y, p.scores, np.array([theirs[q] for q in paths]), name, Path(other).name, conf_level)
        out.append(r.to_dict())
    return out


def demographics(data: TrainingData, cfg: TrainConfig) -> dict:
    """Counts per age band and sex for the model card (no identifiers)."""
    out: dict[str, dict[str, int]] = {}
    if data.info and any(d.get("age_months") is not None for d in data.info):
        bands = age_band_labels([d.get("age_months") for d in data.info], cfg.evaluation.age_bands)
        out["age band"] = {b: bands.count(b) for b in sorted(set(bands))}
    if data.info and any(d.get("sex") for d in data.info):
        sexes = [d.get("sex") or "(not given)" for d in data.info]
        out["sex"] = {s: sexes.count(s) for s in sorted(set(sexes))}
    return out


def evaluate(
    data: TrainingData,
    cfg: TrainConfig,
    folds: list,
    band: RocBand,
    reader_calls: list,
    compare: list[str | Path],
    name: str,
) -> dict:
    p = pool(data, folds)
    return {
        "calibration": calibration_summary(data, folds, p, cfg.evaluation.calibration_bins),
        "operating_point": operating_point(cfg, p, band),
        "subgroups": subgroup_rows(data, cfg, p),
        "readers_mcnemar": reader_mcnemar(reader_calls, p),
        "delong": compare_runs(data, p, compare, name, cfg.evaluation.conf_level),
    }
