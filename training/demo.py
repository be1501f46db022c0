"""The demo bundle: a small screener trained on the SYNTHETIC cohort (see edge.synthetic).

It exists so that ``make demo``, the converters, the benchmark and the kiosk have a real trained
model to run. It is labelled as a demo model that is not for clinical use, in its model card and
wherever its results are printed.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from edge.bundle import load_bundle
from edge.synthetic import SYNTHETIC_NOTICE, CohortConfig, make_cohort

from .model import ModelConfig

log = logging.getLogger(__name__)

DEMO_MODEL = ModelConfig(backbone="resnet18", input_size=112, head_filters=(128,))
DEMO_COHORT = CohortConfig(n_per_class=60, seed=0)
DEMO_INTENDED_USE = ("DEMO MODEL trained on a synthetic cohort with a planted geometric signal, to exercise the "
                     "software only. Not for clinical use; its output says nothing about any child.")


def aligned_cohort(cohort_dir: Path, size: int, detector_name: str = "mtcnn") -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Detect and align every photo of a synthetic cohort (cached as ``aligned_<size>.npz``)."""
    import csv

    from edge import AlignConfig, FaceScreenError, create_detector, prepare_face

    cache = cohort_dir / f"aligned_{size}.npz"
    if cache.is_file():
        d = np.load(cache, allow_pickle=False)
        return d["faces"], d["labels"], list(d["paths"])
    det = create_detector(detector_name)
    faces, labels, paths = [], [], []
    rows = list(csv.DictReader(open(cohort_dir / "cohort.csv")))
    for r in rows:
        try:
            p = prepare_face(cohort_dir / r["path"], det, AlignConfig(size=size))
        except FaceScreenError as exc:
            log.warning("left out %s: %s", r["path"], exc)
            continue
        faces.append(p.aligned.image)
        labels.append(int(r["label"] == DEMO_COHORT.classes[1]))
        paths.append(r["path"])
    np.savez(cache, faces=np.stack(faces), labels=np.array(labels), paths=np.array(paths))
    return np.stack(faces), np.array(labels), paths


def build_demo_bundle(cache_dir: str | Path, epochs: int = 15, seed: int = 0, force: bool = False) -> Path:
    """Build (once) and return the demo bundle directory under ``cache_dir``."""
    import keras
    from sklearn.metrics import roc_auc_score, roc_curve

    from .export import save_bundle
    from .model import build_screener

    cache = Path(cache_dir)
    out = cache / "demo-bundle"
    if (out / "modelcard.json").is_file() and not force:
        load_bundle(out)  # validates
        return out
    cohort_dir = cache / "synthetic-cohort"
    if not (cohort_dir / "cohort.csv").is_file():
        make_cohort(cohort_dir, DEMO_COHORT)
    faces, labels, _ = aligned_cohort(cohort_dir, DEMO_MODEL.input_size)
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(labels))
    n_val = len(idx) // 4
    val, train = idx[:n_val], idx[n_val:]
    keras.utils.set_random_seed(seed)
    model = build_screener(DEMO_MODEL)
    trainable = keras.Model(model.input, model.output["probs"])
    trainable.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss="sparse_categorical_crossentropy")
    t0 = time.time()
    x = faces.astype("float32")
    flip = x[train][:, :, ::-1]  # horizontal flip, as in the papers' augmentation
    trainable.fit(np.concatenate([x[train], flip]), np.concatenate([labels[train]] * 2),
                  epochs=epochs, batch_size=16, verbose=0, shuffle=True)
    p_val = np.asarray(model(x[val], training=False)["probs"])[:, 1]
    fpr, tpr, thr = roc_curve(labels[val], p_val)
    j = int(np.argmax(tpr - fpr))
    threshold = float(np.clip(thr[j], 0.01, 0.99))
    metrics = {"validation_auc": float(roc_auc_score(labels[val], p_val)), "n_validation": int(len(val)),
               "threshold_rule": "Youden's J on the validation split", "data": "SYNTHETIC"}
    out = save_bundle(model, DEMO_MODEL, out, model_id="facescreen-demo-resnet18-synthetic", threshold=threshold,
                      intended_use=DEMO_INTENDED_USE, metrics=metrics,
                      training_data={"kind": "synthetic", "notice": SYNTHETIC_NOTICE,
                                     "n_subjects": int(len(labels)), "n_train": int(len(train)),
                                     "cohort": json.loads(json.dumps(DEMO_COHORT.__dict__, default=list)),
                                     "train_seconds": round(time.time() - t0, 1)},
                      notes="Demo bundle built by `make demo` from edge.synthetic.")
    return out
