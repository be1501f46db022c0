"""The Williams-Beuren paper's comparison in one command: every backbone cross-validated on the same
parts of a three-class cohort, one table and one overlaid ROC figure, no backbone chosen on test folds.
RANDOM PIXELS at 32 px, one epoch, three folds: the plumbing, not the figures."""

from __future__ import annotations

import numpy as np
import pytest

from facescreen.training.backbone_comparison import PAPER_BACKBONES, compare_backbones, load_table
from facescreen.training.backbones import BACKBONES
from facescreen.training.cli import main
from facescreen.training.config import build_config
from facescreen.training.data.dataset import TrainingData

CLASSES = ("healthy", "other", "wbs")


def test_the_papers_backbones_are_all_registered():
    assert set(PAPER_BACKBONES) <= set(BACKBONES.names())


def test_every_backbone_on_the_same_folds_one_table_one_figure(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.arange(30) % 3
    data = TrainingData(
        faces=rng.integers(0, 255, (30, 32, 32, 3), dtype=np.uint8),
        labels=labels,
        classes=CLASSES,
        positive_classes=("wbs",),  # the paper's screen: WBS against other syndromes and healthy children
        subject_ids=tuple(f"s{i:02d}" for i in range(30)),
        paths=tuple(f"/photos/{i}.jpg" for i in range(30)),
        strata=tuple(CLASSES[k] for k in labels),
        notice="RANDOM PIXELS",
    )
    cfg = build_config(
        "paper-wbs",
        overrides={
            "model": {"input_size": 32, "head_filters": [8], "init": "none"},
            "fit": {"epochs": 1, "batch_size": 8},
            "augment": {"enabled": False},
            "cv": {"n_folds": 3},
            "evaluation": {"bootstrap": 200, "explain_faces": 0},
            "final": {"strategy": "none"},
        },
    )
    table = compare_backbones(data, cfg, tmp_path / "wbs", PAPER_BACKBONES)
    rows = load_table(tmp_path / "wbs")
    assert list(rows) == list(PAPER_BACKBONES)
    text = table.read_text()
    assert text.count("(highest validation AUC)") == 1 and "RANDOM PIXELS" in text
    assert (tmp_path / "wbs" / "roc_backbones.png").stat().st_size > 10_000
    splits = [(tmp_path / "wbs" / b / "splits.csv").read_text() for b in PAPER_BACKBONES]
    assert all(s == splits[0] for s in splits)  # the same parts for every backbone
    for b in PAPER_BACKBONES:
        assert (tmp_path / "wbs" / b / "report.md").is_file()
        assert 0.0 <= rows[b]["auc_mean"] <= 1.0


def test_an_unknown_backbone_is_refused_before_any_photo_is_read(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["compare-backbones", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--backbones", "vgg17"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "unknown backbone(s) vgg17; valid: mobilenet_v2" in err
