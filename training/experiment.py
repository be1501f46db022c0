"""One cross-validated experiment, end to end: folds, pooled ROC with its band, readers, the final
model as a bundle, and every output file. The command line (``facescreen-train cv``) and the tests
call :func:`run_experiment`; :func:`prepare_data` turns a photo folder or manifest into its input.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import platform
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facescreen.edge.bundle import DEFAULT_INTENDED_USE
from facescreen.edge.detect import DetectConfig
from facescreen.edge.pipeline import AlignConfig
from facescreen.edge.postprocess import flagged, screening_probability

from .callbacks import RunClock, format_seconds
from .config import TrainConfig
from .cv import FoldResult, make_parts, run_folds
from .data.align_cache import AlignedPhotos, AlignmentCache, write_issues_csv
from .data.dataset import TrainingData
from .data.manifest import cohort_summary, load_cohort, split_classes
from .evaluation import check_subgroup_columns, demographics, evaluate, load_other_run, pool
from .export import save_bundle
from .final import planned_final_epochs, train_final
from .fit import discard_resume
from .metrics import BinaryMetrics, metrics_from_calls, multiclass_metrics, roc_curve_points, summarise_folds
from .readers import ReaderResult, compare_readers, load_reader_calls
from .report.checklist import reporting_checklist
from .report.evaluation_md import evaluation_sections
from .report.markdown import write_report
from .report.reliability_plot import plot_reliability
from .report.roc_plot import plot_roc
from .report.tables import HEADER, comparison_rows, text_table, write_fold_csv, write_reader_csv
from .roc_band import RocBand, bootstrap_roc_band
from .rundir import attach_log, detach_log, prepare_run_dir
from .runtime import device_line, device_report
from .thresholds import ThresholdChoice

log = logging.getLogger("training")


@dataclass(frozen=True)
class ExperimentResult:
    """What one cross-validated run found, and the data and configuration it ran on: what
    ``summary.json`` and ``report.md`` are written from."""

    run_dir: Path
    cfg: TrainConfig
    data: TrainingData
    aligned: AlignedPhotos | None
    folds: list[FoldResult]
    summary: dict  # mean, SD and t interval of each metric over the folds
    band: RocBand
    pooled: BinaryMetrics  # of the pooled test predictions, each at its own fold's threshold
    multi: dict | None  # per-class figures where there are more than two classes
    readers: list[ReaderResult]
    bundle: Path | None
    final_info: dict | None
    table: str


def prepare_data(
    source: str | Path, cfg: TrainConfig, cache_dir: str | Path | None = None, progress: bool = True, detector=None
) -> tuple[TrainingData, AlignedPhotos, str]:
    """Read the cohort, print its summary, align every photo (cached) and build the training data.

    ``cache_dir`` (else ``cfg.data.cache_dir``) is where aligned faces are kept; there is no default
    in the home directory: face crops of clinic photos are health data and stay where the user says.

    ``detector``: an already built detector instance (else ``cfg.data.detector`` is created when
    a photo is not in the cache)."""
    cohort = load_cohort(source, group_by_subject=cfg.cv.group_by_subject, n_folds=cfg.cv.n_folds)
    summary = cohort_summary(cohort)
    print(summary, flush=True)
    classes, positive = split_classes(cohort.labels, cfg.data.negative_classes)
    align = AlignConfig(size=cfg.model.input_size, detect=DetectConfig(min_confidence=cfg.data.min_face_confidence))
    cache_dir = cache_dir or cfg.data.cache_dir
    if not cache_dir:
        raise ValueError("prepare_data needs the alignment cache folder (cache_dir or data.cache_dir)")
    cache = AlignmentCache(
        cache_dir,
        cfg.data.detector,
        align,
        cfg.data.reject_multiple_faces,
        detector,
        detector_bundle=cfg.data.detector_bundle,
    )
    aligned = cache.align(cohort.photos, progress=progress)
    left_out = aligned.left_out
    if left_out:
        print(
            f"{len(left_out)} photo(s) left out (reasons in alignment_issues.csv): "
            + ", ".join(f"{r} {n}" for r, n in Counter(i.reason for i in left_out).items()),
            flush=True,
        )
    if len(aligned.photos) == 0:
        raise ValueError("no photo could be aligned; see the reasons above")
    data = TrainingData.from_aligned(aligned, classes, positive, cfg.cv.stratify_by_syndrome, cfg.data.notice)
    return data, aligned, summary


def fingerprint(data: TrainingData) -> dict:
    h = hashlib.sha256()
    for p, s, lab in zip(data.paths, data.subject_ids, data.labels):
        h.update(f"{p}\t{s}\t{lab}\n".encode())
    h.update(np.ascontiguousarray(data.faces).tobytes())
    return {"n_photos": len(data.labels), "classes": list(data.classes), "digest": h.hexdigest()}


def run_experiment(
    data: TrainingData,
    cfg: TrainConfig,
    out: str | Path,
    readers_csv: str | Path | None = None,
    resume: bool = False,
    aligned: AlignedPhotos | None = None,
    cohort_text: str = "",
    source: str = "",
    compare: list[str | Path] = (),
) -> ExperimentResult:
    """``compare``: other runs' directories on the same photos, whose pooled AUCs are tested
    against this run's (DeLong)."""
    t0 = time.time()
    check_subgroup_columns(data, cfg)
    for other in compare:
        load_other_run(other)  # fail before training
    if cfg.cv.shuffle_labels:
        data = data.with_shuffled_labels(cfg.seed)
    run_dir = prepare_run_dir(out, cfg, fingerprint(data), resume)
    handler = attach_log(run_dir)
    try:
        return _run(data, cfg, run_dir, readers_csv, aligned, cohort_text, source, t0, list(compare))
    finally:
        detach_log(handler)


def _run(
    data: TrainingData, cfg: TrainConfig, run_dir: Path, readers_csv, aligned, cohort_text, source, t0, compare
) -> ExperimentResult:
    devices = device_report(cfg.runtime.mixed_precision)
    log.info("run %s | preset %s | %s", run_dir, cfg.preset, device_line(devices))
    if devices["warning"]:
        log.warning("WARNING: %s", devices["warning"])
    if data.notice:
        log.info("NOTE: %s", data.notice)
    if cohort_text:
        (run_dir / "data_summary.txt").write_text(cohort_text + "\n")
    if aligned is not None:
        write_issues_csv(aligned.issues, run_dir / "alignment_issues.csv")
    parts = make_parts(data, cfg)
    _write_splits(data, parts, run_dir / "splits.csv")
    clock = RunClock(cfg.cv.n_folds * cfg.fit.epochs + planned_final_epochs(cfg))
    folds = run_folds(data, cfg, run_dir, parts, clock)
    summary = summarise_folds([f.metrics for f in folds], conf_level=cfg.evaluation.conf_level)
    test_idx = np.concatenate([f.test_idx for f in folds])
    test_probs = np.concatenate([f.test_probs for f in folds])
    pooled_test = pool(data, folds)
    y = pooled_test.y
    band = bootstrap_roc_band(
        y,
        pooled_test.scores,
        cfg.evaluation.bootstrap,
        cfg.evaluation.conf_level,
        seed=cfg.seed,
        clusters=pooled_test.clusters,  # children resampled when some child has several photos
    )
    pooled = metrics_from_calls(y, pooled_test.flags, band.auc)
    multi = (
        multiclass_metrics(
            data.labels[test_idx],
            test_probs,
            data.classes,
            tuple(k for k in cfg.evaluation.top_k if k < len(data.classes)),
        )
        if len(data.classes) > 2
        else None
    )
    readers, reader_calls = _readers(readers_csv, data, test_idx, y, band, aligned)
    evaluation = evaluate(data, cfg, folds, band, reader_calls, compare, run_dir.name, aligned)
    plot_reliability(evaluation["calibration"], run_dir / "reliability.png", notice=data.notice)
    _write_predictions(data, folds, run_dir / "predictions.csv")
    write_fold_csv(folds, summary, run_dir / "fold_metrics.csv")
    if readers:
        write_reader_csv(readers, run_dir / "readers.csv")
    fold_curves = [roc_curve_points(data.y_binary[f.test_idx], f.test_scores(data.positive))[:2] for f in folds]
    plot_roc(band, fold_curves, readers, run_dir / "roc.png", notice=data.notice)
    bundle, final_info = _final(data, cfg, parts, folds, summary, band, run_dir, clock, source, aligned, evaluation)
    rows = comparison_rows(readers, summary, cfg.cv.n_folds)
    result = ExperimentResult(
        run_dir,
        cfg,
        data,
        aligned,
        folds,
        summary,
        band,
        pooled,
        multi,
        readers,
        bundle,
        final_info,
        text_table(HEADER, rows),
    )
    result_dict = _summary_json(result, time.time() - t0, source, devices)
    result_dict["evaluation"] = evaluation
    (run_dir / "summary.json").write_text(json.dumps(_jsonable(result_dict), indent=2))
    write_report(
        result,
        cohort_text,
        rows,
        extra_sections=evaluation_sections(
            evaluation,
            cfg.evaluation.temperature_scaling,
            reporting_checklist(
                cfg,
                data,
                evaluation,
                aligned,
                final_threshold=ThresholdChoice(**final_info["threshold"]) if final_info else None,
            ),
        ),
    )
    log.info("finished in %s; report: %s", format_seconds(time.time() - t0), run_dir / "report.md")
    return result


def _readers(
    readers_csv, data: TrainingData, test_idx: np.ndarray, y: np.ndarray, band: RocBand, aligned: AlignedPhotos | None
) -> tuple[list[ReaderResult], list]:
    """The readers' results (placed on the band) and their raw calls (for McNemar's test)."""
    if not readers_csv:
        return [], []
    negative = tuple(c for c in data.classes if c not in data.positive_classes)
    all_ids = {p.subject_id for p in aligned.photos} | {i.photo.subject_id for i in aligned.issues} if aligned else None
    all_paths = {p.path for p in aligned.photos} | {i.photo.path for i in aligned.issues} if aligned else None
    calls = load_reader_calls(
        readers_csv,
        [data.subject_ids[i] for i in test_idx],
        [Path(data.paths[i]) for i in test_idx],
        data.positive_classes,
        negative,
        all_ids,
        all_paths,
    )
    results = compare_readers(calls, y, band)
    for r in results:
        log.info(
            "reader %s: sensitivity %.3f, specificity %.3f on %d photos -> %s",
            r.reader_id,
            r.metrics.sensitivity,
            r.metrics.specificity,
            r.metrics.n,
            r.verdict,
        )
    return results, calls


def _final(data, cfg, parts, folds, summary, band, run_dir, clock, source, aligned, evaluation):
    done = run_dir / "final.json"
    if done.is_file() and (run_dir / "bundle" / "modelcard.json").is_file():  # a resumed run that got this far
        info = json.loads(done.read_text())
        log.info("final model: finished in an earlier run, kept (%s)", info["bundle"])
        return Path(info["bundle"]), info
    final = train_final(data, cfg, parts, folds, run_dir, clock)
    if final is None:
        return None, None
    cv_metrics = {
        "kind": f"{cfg.cv.n_folds}-fold cross-validation, train:validation:test = {cfg.cv.n_folds - 2}:1:1 rotating; "
        "threshold chosen on validation only",
        "mean_sd": summary,
        "auc_headline": evaluation["auc"],  # the papers' figure: fold mean +- SD, with its t interval
        "conf_level": cfg.evaluation.conf_level,
        "pooled_auc": band.auc,
        "pooled_auc_ci": list(band.auc_ci),
        "pooled_auc_note": evaluation["auc"]["pooled_note"],
        "bootstrap_resamples": band.n_boot,
        "resampled": band.resampled,
        "threshold_rule": cfg.threshold.rule,
        "threshold_policy": cfg.threshold.policy,
        "fold_thresholds": [f.threshold.value for f in folds],
        "n_photos": len(data.labels),
    }
    if data.notice:
        cv_metrics["notice"] = data.notice
    model_cfg = cfg.model.model_config(data.classes, data.positive_classes)
    model_id = cfg.final.model_id or f"facescreen-{cfg.model.backbone}-{run_dir.name}"
    # the source's name only: a local path says nothing to the card's readers and may say too much
    training_data = {
        "source": Path(source).name if source else "",
        "n_photos": len(data.labels),
        "n_subjects": len(set(data.subject_ids)),
        "class_counts": data.class_counts(),
        "fingerprint": fingerprint(data)["digest"],
        "left_out_at_alignment": len(aligned.left_out) if aligned else None,
        "final_model": final.description,
        "demographics": demographics(data, cfg),
        "initial_weights": {
            **final.weights,
            "file": Path(final.weights["file"]).name if final.weights.get("file") else None,
        },
    }
    if data.notice:
        training_data["notice"] = data.notice
    bundle = save_bundle(
        final.model,
        model_cfg,
        run_dir / "bundle",
        model_id=model_id,
        threshold=final.threshold.value,
        intended_use=cfg.final.intended_use or DEFAULT_INTENDED_USE,
        metrics=_jsonable(
            {
                "cross_validation": cv_metrics,
                "threshold": final.threshold.to_dict(),
                "operating_point": evaluation["operating_point"],
                "calibration": {k: evaluation["calibration"][k] for k in ("bins", "pooled", "folds", "line")},
                "two_by_two": evaluation["two_by_two"],
                "predictive_values": evaluation["predictive_values"],
                "flow": evaluation["flow"],
                "subgroups": evaluation["subgroups"],
                "subgroup_note": evaluation["subgroup_note"],
                "readers_mcnemar": evaluation["readers_mcnemar"],
                "readers_paired": evaluation["readers_paired"],
                "checklist": reporting_checklist(cfg, data, evaluation, aligned, final_threshold=final.threshold),
            }
        ),
        calibration=_jsonable(final.temperature or {}),
        training_data=_jsonable(training_data),
        notes=f"facescreen-train cv, preset {cfg.preset}; final model {final.strategy}: {final.description}",
    )
    info = {
        "bundle": str(bundle),
        "model_id": model_id,
        "strategy": final.strategy,
        "description": final.description,
        "temperature": final.temperature,
        "threshold": final.threshold.to_dict(),
        "fit": final.fit.to_dict(),
        "weights": final.weights,
    }
    done.write_text(json.dumps(_jsonable(info), indent=2))
    discard_resume(run_dir / "final")  # the bundle and final.json are written: the fit is no longer needed
    log.info("final model: %s; threshold %.4f; bundle %s", final.description, final.threshold.value, bundle)
    return bundle, info


def _write_splits(data: TrainingData, parts: np.ndarray, path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "subject_id", "label", "stratum", "part"])
        for p, s, lab, st, q in zip(data.paths, data.subject_ids, data.labels, data.strata, parts):
            w.writerow([p, s, data.classes[lab], st, int(q) + 1])


def _write_predictions(data: TrainingData, folds: list[FoldResult], path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            ["fold", "split", "path", "subject_id", "label", "score", "threshold", "flagged"]
            + [f"p_{c}" for c in data.classes]
        )
        for r in folds:
            for split, idx, probs in (("validation", r.val_idx, r.val_probs), ("test", r.test_idx, r.test_probs)):
                scores = screening_probability(probs, data.positive, r.t)  # as the threshold saw them
                for i, s, p in zip(idx, scores, probs):
                    w.writerow(
                        [
                            r.index + 1,
                            split,
                            data.paths[i],
                            data.subject_ids[i],
                            data.classes[data.labels[i]],
                            f"{s:.9f}",
                            f"{r.threshold.value:.9f}",
                            int(flagged(s, r.threshold.value)),
                        ]
                        + [f"{v:.6f}" for v in p]
                    )


def _summary_json(result: ExperimentResult, seconds: float, source: str, devices: dict) -> dict:
    import keras

    data, cfg, folds, aligned = result.data, result.cfg, result.folds, result.aligned
    return {
        "notice": data.notice,
        "source": source,
        "preset": cfg.preset,
        "config": cfg.to_dict(),
        "data": {
            "n_photos": len(data.labels),
            "n_subjects": len(set(data.subject_ids)),
            "classes": list(data.classes),
            "positive_classes": list(data.positive_classes),
            "class_counts": data.class_counts(),
            "alignment_issues": [
                {"path": str(i.photo.path), "reason": i.reason, "action": i.action, "detail": i.detail}
                for i in (aligned.issues if aligned else ())
            ],
        },
        "folds": [
            {
                "fold": f.index + 1,
                "n_train": f.n_train,
                "n_validation": len(f.val_idx),
                "n_test": len(f.test_idx),
                "threshold": f.threshold.to_dict(),
                "metrics": f.metrics.to_dict(),
                "best_epoch": f.fit.best_epoch,
                "epochs_run": f.fit.epochs_run,
                "fit_seconds": f.fit.seconds,
                "training_images_per_s": f.fit.images_per_s,
                "multiclass": f.multiclass,
                "initial_weights": f.weights,
                "panel": f.panel,
            }
            for f in folds
        ],
        "mean_sd": result.summary,
        "pooled": {"metrics": result.pooled.to_dict(), "roc": result.band.to_dict()},
        "multiclass_pooled": result.multi,
        "readers": [r.to_dict() for r in result.readers],
        "final_model": result.final_info,
        "environment": {
            "keras": keras.__version__,
            "backend": keras.backend.backend(),
            "python": platform.python_version(),
            "seconds": round(seconds, 1),
            "devices": devices,
            "training_images_per_s": _mean([f.fit.images_per_s for f in folds]),
        },
    }


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else None


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (np.floating, float)):
        return None if not math.isfinite(float(v)) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    return v
