"""Cross-validation exactly as the papers: k folds (5), train:validation:test = 3:1:1 rotating; in
every fold the model is trained on the training split, early-stopped and checkpointed on the
validation split, its threshold chosen on the validation split only, and it is then scored once
on the test split. Finished folds are kept on disk, so an interrupted run resumes where it was.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from facescreen.edge.postprocess import flagged, screening_probability

from .calibration import fit_temperature
from .callbacks import RunClock
from .config import TrainConfig
from .data.dataset import TrainingData
from .explain import cam_maps, explanation_panel, gradcam_maps
from .fit import FitOutcome, discard_resume, fit_screener, new_screener, predict
from .metrics import BinaryMetrics, binary_metrics, multiclass_metrics
from .runtime import distribution_scope
from .splits import Fold, assign_parts, check_class_coverage, identical_photo_groups, rotate_folds
from .thresholds import ThresholdChoice, select_threshold

log = logging.getLogger("training")
RESULT_FILE = "result.json"


@dataclass(frozen=True)
class FoldResult:
    index: int
    threshold: ThresholdChoice
    metrics: BinaryMetrics
    fit: FitOutcome
    val_idx: np.ndarray = field(repr=False)
    val_probs: np.ndarray = field(repr=False)
    test_idx: np.ndarray = field(repr=False)
    test_probs: np.ndarray = field(repr=False)
    n_train: int = 0
    multiclass: dict | None = None
    weights: dict = field(default_factory=dict)
    panel: str | None = None
    temperature: dict | None = None  # the validation-fitted temperature (training.calibration), if any

    @property
    def t(self) -> float:
        return self.temperature["temperature"] if self.temperature else 1.0

    def test_scores(self, positive: list[int]) -> np.ndarray:
        """The test split's screening scores, as the fold's threshold was chosen for (temperature applied)."""
        return screening_probability(self.test_probs, positive, self.t)

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "threshold": self.threshold.to_dict(),
            "metrics": self.metrics.to_dict(),
            "fit": self.fit.to_dict(),
            "val_idx": self.val_idx.tolist(),
            "val_probs": self.val_probs.tolist(),
            "test_idx": self.test_idx.tolist(),
            "test_probs": self.test_probs.tolist(),
            "n_train": self.n_train,
            "multiclass": self.multiclass,
            "weights": self.weights,
            "panel": self.panel,
            "temperature": self.temperature,
        }

    @classmethod
    def from_dict(cls, d: dict) -> FoldResult:
        fit = dict(d["fit"], history=tuple(d["fit"]["history"]))
        return cls(
            index=d["index"],
            threshold=ThresholdChoice(**d["threshold"]),
            metrics=BinaryMetrics(**d["metrics"]),
            fit=FitOutcome(**fit),
            val_idx=np.array(d["val_idx"], dtype=np.int64),
            val_probs=np.array(d["val_probs"], dtype=np.float32),
            test_idx=np.array(d["test_idx"], dtype=np.int64),
            test_probs=np.array(d["test_probs"], dtype=np.float32),
            n_train=d["n_train"],
            multiclass=d.get("multiclass"),
            weights=d.get("weights", {}),
            panel=d.get("panel"),
            temperature=d.get("temperature"),
        )


def make_parts(data: TrainingData, cfg: TrainConfig) -> np.ndarray:
    """Each photo's part: the manifest's fold column if given, else stratified and subject-grouped.

    Byte-identical photos (same SHA-256) are one group whatever their subject ids say: the same
    image in a training and a test split would be a leak. Given different labels they are refused."""
    n = cfg.cv.n_folds
    groups = list(data.subject_ids)
    strata = list(data.strata)
    if data.digests:
        groups = identical_photo_groups(data.subject_ids, data.digests)
        _check_identical_photos(data, cfg, groups)
        first: dict[str, str] = {}
        for g, st in zip(groups, strata):
            first.setdefault(g, st)
        strata = [first[g] for g in groups]  # a merged group is dealt once, in its first photo's stratum
    if data.predefined_parts is not None:
        parts = data.predefined_parts
        for d in {d for d in data.digests if d}:
            where = {int(parts[i]) + 1 for i, x in enumerate(data.digests) if x == d}
            if len(where) > 1:
                paths = [data.paths[i] for i, x in enumerate(data.digests) if x == d]
                raise ValueError(
                    f"byte-identical photos are in different folds of the manifest ({sorted(where)}): "
                    f"{', '.join(paths[:3])}; give them one fold (or remove the copies)"
                )
    else:
        parts = assign_parts(strata, groups, n, seed=cfg.seed)
    check_class_coverage(parts, [data.classes[k] for k in data.labels], n)
    return parts


def _check_identical_photos(data: TrainingData, cfg: TrainConfig, groups: list[str]) -> None:
    by_digest: dict[str, list[int]] = {}
    for i, d in enumerate(data.digests):
        if d:
            by_digest.setdefault(d, []).append(i)
    copies = {d: idx for d, idx in by_digest.items() if len(idx) > 1}
    if not copies:
        return
    for idx in copies.values():
        labels = {data.classes[data.labels[i]] for i in idx}
        if len(labels) > 1 and not cfg.cv.shuffle_labels:  # the label-shuffled control mixes labels on purpose
            raise ValueError(
                f"byte-identical photos carry different labels ({', '.join(sorted(labels))}): "
                f"{', '.join(data.paths[i] for i in idx[:3])}; correct the manifest or remove the copies"
            )
    merged = sum(len({data.subject_ids[i] for i in idx}) > 1 for idx in copies.values())
    log.warning(
        "%d photo(s) have byte-identical copies (%d across different subject ids): each set is kept in one fold",
        sum(len(v) for v in copies.values()),
        merged,
    )


def run_folds(
    data: TrainingData, cfg: TrainConfig, run_dir: Path, parts: np.ndarray, clock: RunClock | None = None
) -> list[FoldResult]:
    folds = rotate_folds(parts, cfg.cv.n_folds)
    results = []
    for fold in folds:
        path = run_dir / "folds" / f"fold_{fold.index + 1}" / RESULT_FILE
        if path.is_file():
            result = FoldResult.from_dict(json.loads(path.read_text()))
            log.info(
                "fold %d/%d: finished in an earlier run, reloaded (test AUC %.3f)",
                fold.index + 1,
                len(folds),
                result.metrics.auc,
            )
            if clock:
                clock.skip(cfg.fit.epochs)
        else:
            result = run_fold(data, cfg, fold, run_dir, len(folds), clock)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(result.to_dict()))
            tmp.replace(path)
            discard_resume(path.parent)  # only now: a failure after the fit resumes without retraining it
        results.append(result)
    return results


def run_fold(
    data: TrainingData, cfg: TrainConfig, fold: Fold, run_dir: Path, n_folds: int, clock: RunClock | None = None
) -> FoldResult:
    workdir = run_dir / "folds" / f"fold_{fold.index + 1}"
    label = f"fold {fold.index + 1}/{n_folds}"
    log.info("%s: train %d, validation %d, test %d photos", label, len(fold.train), len(fold.val), len(fold.test))
    model_cfg = cfg.model.model_config(data.classes, data.positive_classes)
    seed = cfg.seed * 1000 + fold.index
    positive = data.positive
    with distribution_scope(cfg.runtime.distribute):
        model, weights = new_screener(cfg, model_cfg, seed)
        outcome = fit_screener(
            model, data.faces, data.labels, fold.train, fold.val, positive, cfg, workdir, seed, label=label, clock=clock
        )
    bs = cfg.fit.batch_size
    val = predict(model, data.faces[fold.val], bs)
    temperature = fit_temperature(data.labels[fold.val], val["probs"]) if cfg.evaluation.temperature_scaling else None
    t = temperature.temperature if temperature else 1.0
    scores_val = screening_probability(val["probs"], positive, t)
    threshold = select_threshold(cfg.threshold, data.y_binary[fold.val], scores_val)  # validation only
    test = predict(model, data.faces[fold.test], bs)
    scores_test = screening_probability(test["probs"], positive, t)
    metrics = binary_metrics(data.y_binary[fold.test], scores_test, threshold.value)
    multi = (
        multiclass_metrics(
            data.labels[fold.test],
            test["probs"],
            data.classes,
            tuple(k for k in cfg.evaluation.top_k if k < len(data.classes)),
        )
        if len(data.classes) > 2
        else None
    )
    panel = _panel(model, data, fold, test, scores_test, threshold.value, cfg, run_dir, label)
    if temperature:
        log.info(
            "%s: temperature %.3f fitted on validation (cross-entropy %.4f -> %.4f)",
            label,
            t,
            temperature.nll_before,
            temperature.nll_after,
        )
        if temperature.at_bound:
            log.warning(
                "%s: WARNING the temperature stopped at the end of its range (%.3g): the validation split is "
                "separable or the model carries no information; refused, the fold's scores are not scaled",
                label,
                temperature.fitted,
            )
    if not threshold.target_met:
        log.warning(
            "%s: WARNING no threshold in (0, 1) reaches %s on validation (photos scoring exactly 0 or 1); "
            "the closest was taken: validation sensitivity %.3f, specificity %.3f",
            label,
            threshold.rule,
            threshold.validation_sensitivity,
            threshold.validation_specificity,
        )
    log.info(
        "%s: threshold %.3f (%s on validation) | test AUC %.3f, accuracy %.3f, sensitivity %.3f, specificity %.3f",
        label,
        threshold.value,
        threshold.rule,
        metrics.auc,
        metrics.accuracy,
        metrics.sensitivity,
        metrics.specificity,
    )
    keras.backend.clear_session(free_memory=True)
    return FoldResult(
        index=fold.index,
        threshold=threshold,
        metrics=metrics,
        fit=outcome,
        val_idx=fold.val,
        val_probs=val["probs"],
        test_idx=fold.test,
        test_probs=test["probs"],
        n_train=len(fold.train),
        multiclass=multi,
        weights=weights.to_dict(),
        panel=panel,
        temperature=temperature.to_dict() if temperature else None,
    )


def _panel(
    model,
    data: TrainingData,
    fold: Fold,
    test: dict,
    scores: np.ndarray,
    threshold: float,
    cfg: TrainConfig,
    run_dir: Path,
    label: str,
) -> str | None:
    """CAM / Grad-CAM panel over up to ``explain_faces`` test faces, positives and negatives alternating."""
    n = cfg.evaluation.explain_faces
    if not n or not cfg.evaluation.explain:
        return None
    y = data.y_binary[fold.test]
    pos, neg = list(np.flatnonzero(y == 1)), list(np.flatnonzero(y == 0))
    pick = [i for pair in zip(pos, neg) for i in pair][:n]
    pick += [i for i in pos + neg if i not in pick][: n - len(pick)]
    faces = data.faces[fold.test[pick]]
    maps = {}
    if "cam" in cfg.evaluation.explain:
        maps["CAM"] = cam_maps(test["cam"][pick], data.positive, data.size)
    if "gradcam" in cfg.evaluation.explain:
        maps["Grad-CAM"] = gradcam_maps(model, faces, data.positive, data.size)
    titles = [
        f"{data.classes[data.labels[fold.test[i]]]}\nscore {scores[i]:.2f} "
        f"{'FLAG' if flagged(scores[i], threshold) else ''}"
        for i in pick
    ]
    heading = f"{label}: test faces, heat maps of the screening evidence. {data.notice}".strip()
    path = explanation_panel(faces, maps, titles, run_dir / f"cam_fold{fold.index + 1}.png", heading)
    return path.name
