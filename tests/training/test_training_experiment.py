"""A whole (tiny) experiment through the API: three classes, several photos per subject, the
per-class and top-k metrics, and the outputs of a run without a final model."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from facescreen.training.config import build_config
from facescreen.training.data.dataset import TrainingData
from facescreen.training.experiment import run_experiment
from facescreen.training.rundir import RunDirError

CLASSES = ("healthy", "other", "wbs")


@pytest.fixture(scope="module")
def three_class_run(tmp_path_factory):
    rng = np.random.default_rng(0)
    subjects = [f"s{i:02d}" for i in range(18)]
    labels, ids, strata = [], [], []
    for i, s in enumerate(subjects):
        for _ in range(2):  # two photos per subject
            labels.append(i % 3)
            ids.append(s)
            strata.append(CLASSES[i % 3] + ("/noonan" if i % 3 == 1 and i % 2 else ""))
    faces = rng.integers(0, 255, (36, 32, 32, 3), dtype=np.uint8)
    data = TrainingData(
        faces=faces,
        labels=np.array(labels),
        classes=CLASSES,
        positive_classes=("other", "wbs"),
        subject_ids=tuple(ids),
        paths=tuple(f"/photos/{s}_{k % 2}.jpg" for k, s in enumerate(ids)),
        strata=tuple(strata),
        notice="RANDOM PIXELS",
    )
    cfg = build_config(
        "quick-cpu",
        overrides={
            "model": {"input_size": 32, "head_filters": [8]},
            "fit": {"epochs": 1, "batch_size": 8},
            "cv": {"n_folds": 3, "group_by_subject": True},
            "evaluation": {"bootstrap": 200, "explain_faces": 2},
            "final": {"strategy": "none"},
        },
    )
    out = tmp_path_factory.mktemp("runs") / "three"
    return run_experiment(data, cfg, out), data, cfg, out


def test_per_class_and_top_k_metrics(three_class_run):
    result, data, _, out = three_class_run
    summary = json.loads((out / "summary.json").read_text())
    multi = summary["multiclass_pooled"]
    assert set(multi["per_class"]) == set(CLASSES) and "top2_accuracy" in multi and "top3_accuracy" not in multi
    assert sum(c["n"] for c in multi["per_class"].values()) == 36
    assert multi["top2_accuracy"] >= multi["top1_accuracy"]
    assert all(f["multiclass"] is not None for f in summary["folds"])
    report = (out / "report.md").read_text()
    assert "## Per class" in report and "RANDOM PIXELS" in report
    assert result.bundle is None and not (out / "bundle").exists() and (out / "cam_fold3.png").is_file()
    # the screening score sums the positive classes
    preds = list(csv.DictReader(open(out / "predictions.csv")))
    r = preds[0]
    assert float(r["score"]) == pytest.approx(float(r["p_other"]) + float(r["p_wbs"]), abs=2e-6)


def test_subjects_stay_together_and_each_is_tested_once(three_class_run):
    _, data, _, out = three_class_run
    parts = {}
    for r in csv.DictReader(open(out / "splits.csv")):
        parts.setdefault(r["subject_id"], set()).add(r["part"])
    assert all(len(p) == 1 for p in parts.values())
    tested = [r["subject_id"] for r in csv.DictReader(open(out / "predictions.csv")) if r["split"] == "test"]
    assert sorted(tested) == sorted(data.subject_ids)  # every photo once, both photos of a subject together


def test_a_run_directory_holding_another_run_is_refused(three_class_run, tmp_path):
    _, data, cfg, out = three_class_run
    with pytest.raises(RunDirError, match="pass --resume"):
        run_experiment(data, cfg, out)
    (tmp_path / "stray.txt").write_text("x")
    with pytest.raises(RunDirError, match="not empty"):
        run_experiment(data, cfg, tmp_path)
