"""The demo bundle: a small screener trained on the SYNTHETIC cohort (see edge.synthetic).

It exists so that ``make demo``, the converters, the benchmark and the kiosk have a real trained
model to run. It is labelled as a demo model that is not for clinical use, in its model card and
wherever its results are printed. It reuses the training machinery (alignment cache, fit loop
with a best checkpoint on validation, Youden threshold on validation) without cross-validation.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from facescreen.edge.bundle import MODELCARD, load_bundle
from facescreen.edge.metrics import score_histogram
from facescreen.edge.pipeline import AlignConfig
from facescreen.edge.synthetic import SYNTHETIC_NOTICE, CohortConfig, make_cohort

from .model import ModelConfig

log = logging.getLogger(__name__)

DEMO_MODEL = ModelConfig(backbone="resnet18", input_size=112, head_filters=(128,))
DEMO_COHORT = CohortConfig(n_per_class=60, seed=0)
DEMO_INTENDED_USE = (
    "DEMO MODEL trained on a synthetic cohort with a planted geometric signal, to exercise the "
    "software only. Not for clinical use; its output says nothing about any child."
)


def aligned_cohort(
    cohort_dir: Path, size: int, detector_name: str = "mtcnn"
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Detect and align every photo of a synthetic cohort through the alignment cache
    (``<cohort_dir>/aligned``); returns faces, 0/1 labels (1 = syndromic) and manifest paths."""
    from .data.align_cache import AlignmentCache
    from .data.manifest import load_cohort

    cohort_dir = Path(cohort_dir)
    cohort = load_cohort(cohort_dir / "cohort.csv")
    aligned = AlignmentCache(cohort_dir / "aligned", detector_name, AlignConfig(size=size)).align(
        cohort.photos, progress=False
    )
    for issue in aligned.left_out:
        log.warning("left out %s: %s (%s)", issue.photo.path.name, issue.reason, issue.detail)
    labels = np.array([int(p.label == DEMO_COHORT.classes[1]) for p in aligned.photos])
    paths = [p.path.relative_to(cohort_dir.resolve()).as_posix() for p in aligned.photos]
    return aligned.faces, labels, paths


def built_before(bundle_dir: Path, force: bool) -> bool:
    """True when a valid bundle is already there and ``force`` does not ask to rebuild it (a broken
    one raises rather than being silently rebuilt over)."""
    if (bundle_dir / MODELCARD).is_file() and not force:
        load_bundle(bundle_dir)  # validates
        return True
    return False


def demo_cohort_dir(cache_dir: str | Path, cohort: CohortConfig = DEMO_COHORT) -> Path:
    """The SYNTHETIC demo cohort under ``cache_dir``, made once and shared by the demo and bench bundles."""
    cohort_dir = Path(cache_dir) / "synthetic-cohort"
    if not (cohort_dir / "cohort.csv").is_file():
        make_cohort(cohort_dir, cohort)
    return cohort_dir


def build_demo_bundle(
    cache_dir: str | Path,
    epochs: int = 15,
    seed: int = 0,
    force: bool = False,
    cohort: CohortConfig = DEMO_COHORT,
    model_config: ModelConfig = DEMO_MODEL,
) -> Path:
    """Build (once) and return the demo bundle directory under ``cache_dir``. ``cohort`` and
    ``model_config`` are the demo's; a test passes smaller ones to run the same code in seconds."""
    from .config import build_config
    from .export import save_bundle
    from .fit import discard_resume, fit_screener, new_screener, predict
    from .metrics import binary_metrics
    from .splits import assign_parts
    from .thresholds import ThresholdConfig, select_threshold

    out = Path(cache_dir) / "demo-bundle"
    if built_before(out, force):
        return out
    cohort_dir = demo_cohort_dir(cache_dir, cohort)
    faces, labels, paths = aligned_cohort(cohort_dir, model_config.input_size)
    parts = assign_parts([str(v) for v in labels], paths, n_parts=4, seed=seed)
    val, train = np.flatnonzero(parts == 0), np.flatnonzero(parts != 0)
    # every epoch sees each training face and its mirror image (the papers' flip augmentation)
    n = len(labels)
    x = np.concatenate([faces, faces[:, :, ::-1]])
    y = np.concatenate([labels, labels])
    cfg = build_config(
        "quick-cpu",
        overrides={
            "seed": seed,
            "fit": {"epochs": epochs},
            "augment": {"enabled": False},
            "final": {"strategy": "none"},
        },
    )
    t0 = time.time()
    model, _ = new_screener(cfg, model_config, seed)
    fit = fit_screener(
        model,
        x,
        y,
        np.concatenate([train, train + n]),
        val,
        [1],
        cfg,
        Path(cache_dir) / "demo-training",
        seed,
        label="demo model",
    )
    discard_resume(Path(cache_dir) / "demo-training")  # the demo never resumes a fit
    scores = predict(model, faces[val], cfg.fit.batch_size)["probs"][:, 1]
    threshold = select_threshold(ThresholdConfig("youden"), labels[val], scores)
    val_metrics = binary_metrics(labels[val], scores, threshold.value)
    metrics = {
        "validation_auc": val_metrics.auc,
        "n_validation": int(len(val)),
        "validation": val_metrics.to_dict(),
        # what the field report (kiosk field-report) compares the field's scores with (drift)
        "validation_score_histogram": score_histogram(scores, labels[val]),
        "best_epoch": fit.best_epoch,
        "threshold_rule": "Youden's J on the validation split",
        "data": "SYNTHETIC",
    }
    out = save_bundle(
        model,
        model_config,
        out,
        model_id=f"facescreen-demo-{model_config.backbone}-synthetic",
        threshold=threshold.value,
        intended_use=DEMO_INTENDED_USE,
        metrics=metrics,
        training_data={
            "kind": "synthetic",
            "notice": SYNTHETIC_NOTICE,
            "n_subjects": int(n),
            "n_train": int(len(train)),
            "cohort": json.loads(json.dumps(cohort.__dict__, default=list)),
            "train_seconds": round(time.time() - t0, 1),
        },
        notes="Demo bundle built by `make demo` from edge.synthetic.",
    )
    return out
