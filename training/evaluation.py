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

from facescreen.edge.postprocess import flagged, screening_probability

from .calibration import calibration_line, reliability
from .comparisons import delong_test, mcnemar_test, wilson_interval
from .config import ConfigError, TrainConfig
from .data.dataset import TrainingData
from .metrics import confusion, mean_ci, mean_sd, predictive_values
from .roc_band import RocBand, sensitivity_at
from .subgroups import age_band_labels, multiple_comparison_note, subgroup_table


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
    clusters: np.ndarray  # each photo's child (subject id): the unit of every interval and test

    @property
    def by_child(self) -> bool:
        """Some child has several photos: intervals and tests resample or count children."""
        return len(set(self.clusters.tolist())) < len(self.clusters)


def pool(data: TrainingData, folds: list) -> Pooled:
    idx = np.concatenate([f.test_idx for f in folds])
    scores = np.concatenate([f.test_scores(data.positive) for f in folds])
    raw = np.concatenate([screening_probability(f.test_probs, data.positive) for f in folds])
    flags = np.concatenate([flagged(f.test_scores(data.positive), f.threshold.value) for f in folds]).astype(np.int64)
    clusters = np.array([data.subject_ids[i] for i in idx], dtype=object)
    return Pooled(idx, data.y_binary[idx], scores, raw, flags, clusters)


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
    out["line"] = calibration_line(p.y, p.scores).to_dict()  # slope and calibration-in-the-large, pooled
    return out


def operating_point(cfg: TrainConfig, p: Pooled, band: RocBand) -> dict:
    tp, fp, tn, fn = confusion(p.y, p.flags)
    spec = cfg.evaluation.fixed_specificity
    cl = cfg.evaluation.conf_level
    lo, hi = band.band_at(spec)
    return {
        "policy": cfg.threshold.policy,
        "rule": cfg.threshold.rule,
        "target": cfg.threshold.target if cfg.threshold.rule in ("sensitivity", "specificity") else None,
        "conf_level": cl,
        "sensitivity": tp / max(tp + fn, 1),
        "sensitivity_ci": list(wilson_interval(tp, tp + fn, cl)),
        "specificity": tn / max(tn + fp, 1),
        "specificity_ci": list(wilson_interval(tn, tn + fp, cl)),
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
    """Model (at each fold's threshold) against each reader, on the photos that reader called;
    children as the unit (Durkalski's clustered McNemar) when a child has several photos."""
    out = []
    for r in reader_calls:
        m = mcnemar_test(p.y[r.items], p.flags[r.items], r.calls, "model", r.reader_id, clusters=p.clusters[r.items])
        out.append({**m.to_dict(), "p_value": m.p_value})
    return out


def reader_paired(reader_calls: list, p: Pooled, conf_level: float) -> list[dict]:
    """Sensitivity and specificity of the model and each reader compared separately, each on the
    same children (McNemar's test restricted to the positives, then to the negatives: only the
    children one of them called right and the other wrong count)."""
    out = []
    for r in reader_calls:
        y, model, reader, kids = p.y[r.items], p.flags[r.items], r.calls, p.clusters[r.items]
        row = {"reader": r.reader_id}
        for name, cls in (("sensitivity", 1), ("specificity", 0)):
            k = y == cls
            if not k.any():
                row[name] = None
                continue
            m = mcnemar_test(y[k], model[k], reader[k], "model", r.reader_id, clusters=kids[k])
            right_model, right_reader = m.both_correct + m.only_a_correct, m.both_correct + m.only_b_correct
            row[name] = {
                "n": m.n,
                "model": right_model / m.n,
                "model_ci": list(wilson_interval(right_model, m.n, conf_level)),
                "reader": right_reader / m.n,
                "reader_ci": list(wilson_interval(right_reader, m.n, conf_level)),
                "only_model_right": m.only_a_correct,
                "only_reader_right": m.only_b_correct,
                "p_value": m.p_value,
            }
        out.append(row)
    return out


def paired_wording(name: str, d: dict, conf_level: float) -> str:
    """What a paired comparison shows, without claiming more: a p-value above the level shows no
    difference on these children, which is not evidence that there is none."""
    alpha = 1.0 - conf_level
    better = "model" if d["model"] > d["reader"] else "reader"
    if d["p_value"] < alpha:
        return (
            f"{name}: the {better} was right on more of these children "
            f"({d['only_model_right']} vs {d['only_reader_right']} discordant; p {d['p_value']:.3g})"
        )
    return (
        f"{name}: no difference shown on these {d['n']} children ({d['only_model_right']} vs "
        f"{d['only_reader_right']} discordant; p {d['p_value']:.3g}); this does not show they are equal"
    )


def two_by_two(data: TrainingData, folds: list, p: Pooled) -> list[dict]:
    """The 2x2 table (TP, FP, FN, TN) of each fold's test split at its threshold, then pooled."""
    rows = []
    for f in folds:
        flags = (f.test_scores(data.positive) >= f.threshold.value).astype(np.int64)
        tp, fp, tn, fn = confusion(data.y_binary[f.test_idx], flags)
        rows.append({"fold": f.index + 1, "tp": tp, "fp": fp, "fn": fn, "tn": tn})
    tp, fp, tn, fn = confusion(p.y, p.flags)
    rows.append({"fold": "pooled", "tp": tp, "fp": fp, "fn": fn, "tn": tn})
    return rows


def predictive_value_rows(cfg: TrainConfig, p: Pooled) -> dict:
    """PPV and NPV at the folds' thresholds: at the study's own prevalence and at each intended-use one."""
    tp, fp, tn, fn = confusion(p.y, p.flags)
    sens, spec = tp / max(tp + fn, 1), tn / max(tn + fp, 1)
    study = (tp + fn) / max(len(p.y), 1)
    rows = [{"setting": "this study (case-control mix)", "prevalence": study, **_pv(sens, spec, study)}]
    rows += [
        {"setting": "intended use (stated)", "prevalence": q, **_pv(sens, spec, q)} for q in cfg.evaluation.prevalence
    ]
    return {"sensitivity": sens, "specificity": spec, "rows": rows, "stated": bool(cfg.evaluation.prevalence)}


def _pv(sens: float, spec: float, prevalence: float) -> dict:
    ppv, npv = predictive_values(sens, spec, prevalence) if 0 < prevalence < 1 else (float("nan"), float("nan"))
    return {"ppv": ppv, "npv": npv}


def auc_headline(folds: list, band: RocBand, conf_level: float) -> dict:
    """The papers' figure, the AUC's mean +- SD over the folds (each fold's model on its own test
    split), with its t interval; the pooled AUC beside it, explained. The pooled one ranks five
    models' scores on one scale, so it moves with anything that changes one fold's scale
    (temperature scaling moved it 0.909 -> 0.923 in a simulation while every fold's AUC stood still)."""
    aucs = [f.metrics.auc for f in folds]
    mean, sd = mean_sd(aucs)
    return {
        "mean": mean,
        "sd": sd,
        "ci": list(mean_ci(aucs, conf_level)),
        "n_folds": len(aucs),
        "conf_level": conf_level,
        "pooled": band.auc,
        "pooled_ci": list(band.auc_ci),
        "pooled_resampled": band.resampled,
        "pooled_note": (
            "The pooled AUC ranks all test photos together although each fold's model scored its own; "
            f"it mixes {len(aucs)} score scales and moves with per-fold calibration. The fold mean is the headline."
        ),
    }


def participant_flow(aligned, data: TrainingData, p: Pooled) -> dict | None:
    """Photos in, alignment failures by class (a photo the screen cannot read is a result in use:
    the child is not screened), photos analysed; and the operating point counting those failures
    against the screen (syndromic children missed, controls referred)."""
    if aligned is None:
        return None
    positive = set(data.positive_classes)
    by_class: dict[str, dict] = {}
    for ph in aligned.photos:
        by_class.setdefault(ph.label, {"in": 0, "failed": {}, "analysed": 0})
        by_class[ph.label]["in"] += 1
        by_class[ph.label]["analysed"] += 1
    for i in aligned.issues:
        if not i.left_out:
            continue
        c = by_class.setdefault(i.photo.label, {"in": 0, "failed": {}, "analysed": 0})
        c["in"] += 1
        c["failed"][i.reason] = c["failed"].get(i.reason, 0) + 1
    failed_pos = sum(sum(v["failed"].values()) for k, v in by_class.items() if k in positive)
    failed_neg = sum(sum(v["failed"].values()) for k, v in by_class.items() if k not in positive)
    tp, fp, tn, fn = confusion(p.y, p.flags)
    return {
        "photos_in": len(aligned.photos) + len(aligned.left_out),
        "children_in": len({ph.subject_id for ph in aligned.photos} | {i.photo.subject_id for i in aligned.left_out}),
        "alignment_failures": len(aligned.left_out),
        "photos_analysed": len(aligned.photos),
        "photos_tested": len(p.y),
        "by_class": by_class,
        "sensitivity_counting_failures": tp / max(tp + fn + failed_pos, 1),
        "specificity_counting_failures": tn / max(tn + fp + failed_neg, 1),
    }


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
    aligned=None,
) -> dict:
    p = pool(data, folds)
    cl = cfg.evaluation.conf_level
    subgroups = subgroup_rows(data, cfg, p)
    return {
        "conf_level": cl,
        "unit": "children" if p.by_child else "photos (one per child)",
        "auc": auc_headline(folds, band, cl),
        "calibration": calibration_summary(data, folds, p, cfg.evaluation.calibration_bins),
        "operating_point": operating_point(cfg, p, band),
        "two_by_two": two_by_two(data, folds, p),
        "predictive_values": predictive_value_rows(cfg, p),
        "flow": participant_flow(aligned, data, p),
        "subgroups": subgroups,
        "subgroup_note": multiple_comparison_note(subgroups, cl),
        "readers_mcnemar": reader_mcnemar(reader_calls, p),
        "readers_paired": reader_paired(reader_calls, p, cl),
        "delong": compare_runs(data, p, compare, name, cl),
    }
