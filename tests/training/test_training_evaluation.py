"""The evaluation's figures and the report / model-card sections built from them, on hand-made folds
(no training): the headline is the fold mean, children are the unit, and every section-2 item of
issue 21 (2x2 tables, PPV/NPV at a stated prevalence, calibration slope, participant flow, paired
reader comparison, the TRIPOD+AI / STARD checklist) is rendered."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from facescreen.edge import card_markdown
from facescreen.edge.card_markdown import USER_MUST_STATE
from facescreen.training.config import build_config
from facescreen.training.cv import FoldResult
from facescreen.training.data.dataset import TrainingData
from facescreen.training.evaluation import evaluate, pool
from facescreen.training.fit import FitOutcome
from facescreen.training.metrics import binary_metrics
from facescreen.training.readers import ReaderCalls
from facescreen.training.report.checklist import reporting_checklist
from facescreen.training.report.evaluation_md import evaluation_sections
from facescreen.training.roc_band import bootstrap_roc_band
from facescreen.training.thresholds import ThresholdConfig, select_threshold

N_FOLDS, PER_FOLD = 5, 24


def _folds(scale_by_fold: bool, photos_per_child: int = 1):
    """Five folds; with ``scale_by_fold`` each fold's model scores on its own scale (fold k adds
    0.15 k to every score): every fold AUC is unchanged, the pooled AUC is not."""
    rng = np.random.default_rng(0)
    n = N_FOLDS * PER_FOLD
    labels = np.tile(np.r_[np.zeros(PER_FOLD // 2), np.ones(PER_FOLD // 2)], N_FOLDS).astype(int)
    subjects = tuple(f"c{i // photos_per_child}" for i in range(n))
    data = TrainingData(
        faces=np.zeros((n, 4, 4, 3), np.uint8),
        labels=labels,
        classes=("control", "syndromic"),
        positive_classes=("syndromic",),
        subject_ids=subjects,
        paths=tuple(f"p{i}.jpg" for i in range(n)),
        strata=tuple(map(str, labels)),
    )
    folds = []
    for k in range(N_FOLDS):
        test = np.arange(k * PER_FOLD, (k + 1) * PER_FOLD)
        val = np.arange(((k + 1) % N_FOLDS) * PER_FOLD, ((k + 1) % N_FOLDS + 1) * PER_FOLD)
        shift = 0.15 * k if scale_by_fold else 0.0

        def probs(idx, shift=shift):
            s = np.clip(0.25 + 0.35 * labels[idx] + rng.normal(0, 0.15, len(idx)) + shift, 0.001, 0.999)
            return np.c_[1 - s, s].astype(np.float32)

        vp, tp = probs(val), probs(test)
        thr = select_threshold(ThresholdConfig("youden"), labels[val], vp[:, 1])
        fit = FitOutcome(1, 1, 0.5, 0.8, 1.0, ())
        m = binary_metrics(labels[test], tp[:, 1], thr.value)
        folds.append(FoldResult(k, thr, m, fit, val, vp, test, tp, n_train=72))
    return data, folds


def _evaluate(data, folds, **cfg_overrides):
    cfg = build_config("quick-cpu", overrides={"evaluation": {"bootstrap": 200, **cfg_overrides}})
    p = pool(data, folds)
    band = bootstrap_roc_band(p.y, p.scores, 200, cfg.evaluation.conf_level, clusters=p.clusters)
    return cfg, band, p


def test_the_headline_is_the_fold_mean_not_the_pooled_auc():
    data, folds = _folds(scale_by_fold=True)
    cfg, band, _ = _evaluate(data, folds)
    ev = evaluate(data, cfg, folds, band, [], [], "run")
    fold_aucs = [f.metrics.auc for f in folds]
    assert ev["auc"]["mean"] == pytest.approx(np.mean(fold_aucs)) and ev["auc"]["sd"] == pytest.approx(
        np.std(fold_aucs, ddof=1)
    )
    # five score scales pooled: the pooled AUC is well below the folds' own
    assert ev["auc"]["pooled"] < np.mean(fold_aucs) - 0.05
    card = {
        "model_id": "m",
        "metrics": {
            "cross_validation": {
                "auc_headline": ev["auc"],
                "pooled_auc": ev["auc"]["pooled"],
                "pooled_auc_note": ev["auc"]["pooled_note"],
                "conf_level": 0.95,
            }
        },
    }
    md = "\n".join(card_markdown._front_matter(card) + card_markdown._evaluation(card))
    assert f"value: {np.mean(fold_aucs):.4f}, name: cross-validated AUC (mean over folds)" in md
    assert f"**AUC {np.mean(fold_aucs):.3f} ± " in md and "mixes 5 score scales" in md


def test_every_section_two_item_is_rendered_and_the_level_is_configurable():
    data, folds = _folds(scale_by_fold=False, photos_per_child=2)
    cfg, band, p = _evaluate(data, folds, prevalence=[0.02], conf_level=0.9)
    assert band.resampled == "children"
    rng = np.random.default_rng(1)
    items = np.arange(len(p.y))
    reader = ReaderCalls("R1", items, np.where(rng.random(len(items)) < 0.75, p.y, 1 - p.y), 0)
    photos = [SimpleNamespace(label=data.classes[data.labels[i]], subject_id=data.subject_ids[i]) for i in range(120)]
    failed = [
        SimpleNamespace(photo=SimpleNamespace(label="syndromic", subject_id="x1"), reason="no_face", left_out=True),
        SimpleNamespace(photo=SimpleNamespace(label="control", subject_id="x2"), reason="unreadable", left_out=True),
    ]
    aligned = SimpleNamespace(photos=photos, issues=failed, left_out=failed)
    ev = evaluate(data, cfg, folds, band, [reader], [], "run", aligned)
    assert ev["unit"] == "children" and ev["conf_level"] == 0.9
    assert ev["readers_mcnemar"][0]["n_children"] == 60
    assert ev["two_by_two"][-1]["fold"] == "pooled"
    assert sum(r["tp"] + r["fp"] + r["fn"] + r["tn"] for r in ev["two_by_two"][:-1]) == 120
    assert ev["flow"]["photos_in"] == 122 and ev["flow"]["by_class"]["syndromic"]["failed"] == {"no_face": 1}
    pv = ev["predictive_values"]["rows"]
    assert pv[1]["prevalence"] == 0.02 and pv[1]["ppv"] < pv[0]["ppv"]
    checklist = reporting_checklist(cfg, data, ev, aligned)
    text = "\n".join(evaluation_sections(ev, False, checklist))
    for needle in (
        "2x2 tables",
        "Predictive values",
        "intended use (stated)",
        "Participant flow",
        "Calibration slope",
        "compared separately",
        "Reporting checklist (TRIPOD+AI / STARD)",
        f"**{USER_MUST_STATE}**",
        "90% Wilson CI",
        "resamples of children",
    ):
        assert needle in text, needle
    assert "95%" not in text
    must_state = [i["topic"] for i in checklist if i["answer"] is None]
    assert any("reference standard" in t for t in must_state) and any("Ethics" in t for t in must_state)
