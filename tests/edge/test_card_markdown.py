"""MODEL_CARD.md is rendered from modelcard.json whenever the card is saved, with the Hugging Face
model-card sections, and says only what the JSON holds."""

from __future__ import annotations

from dataclasses import replace

from facescreen.edge.bundle import MODEL_CARD_MD, InputSpec, ModelCard, load_bundle, save_card
from facescreen.edge.card_markdown import render_model_card

SECTIONS = (
    "## Model details",
    "## Uses",
    "### Intended use",
    "### Out-of-scope use",
    "## Training data",
    "## Evaluation",
    "## Calibration",
    "## Limitations",
    "## Ethical considerations",
)


def _card(**kw):
    return ModelCard("m1", ("control", "syndromic"), ("syndromic",), 0.42, "resnet18", input=InputSpec(size=64), **kw)


def test_save_card_writes_the_readable_card_next_to_the_json(tmp_path):
    save_card(tmp_path, _card())
    md = (tmp_path / MODEL_CARD_MD).read_text()
    assert md.startswith("---\nlibrary_name: keras")
    for s in SECTIONS:
        assert s in md, s
    assert "validated on adult faces only" in md and "hypertelorism" in md
    assert "No evaluation recorded" in md and "No temperature scaling" in md and "None" not in md
    # re-saving with a change re-renders it
    card = load_bundle(tmp_path).card
    save_card(tmp_path, replace(card, calibration={"temperature": 1.7, "fitted_on": "validation"}))
    assert "T = 1.7000, fitted on validation" in (tmp_path / MODEL_CARD_MD).read_text()
    assert load_bundle(tmp_path).card.temperature == 1.7


def test_evaluation_subgroups_and_custom_considerations_are_rendered():
    metrics = {
        "cross_validation": {
            "kind": "5-fold",
            "mean_sd": {"auc": {"mean": 0.9, "sd": 0.05}},
            "auc_headline": {"mean": 0.9, "sd": 0.05, "ci": [0.838, 0.962], "n_folds": 5},
            "pooled_auc": 0.91,
            "pooled_auc_ci": [0.85, 0.95],
            "bootstrap_resamples": 2000,
        },
        "operating_point": {
            "policy": "highest threshold with validation sensitivity >= 0.9",
            "sensitivity": 0.9,
            "sensitivity_ci": [0.8, 0.95],
            "specificity": 0.7,
            "specificity_ci": [0.6, 0.8],
            "fixed_specificity": 0.9,
            "sensitivity_at_fixed_specificity": 0.75,
            "sensitivity_at_fixed_specificity_ci": [0.6, 0.85],
        },
        "subgroups": [
            {
                "attribute": "sex",
                "group": "F",
                "n": 12,
                "n_positive": 5,
                "n_negative": 7,
                "sensitivity": 0.8,
                "sensitivity_ci": [0.4, 0.96],
                "specificity": 0.71,
                "specificity_ci": [0.36, 0.92],
                "auc": None,
                "auc_ci": [None, None],
                "too_small": True,
            }
        ],
    }
    card = _card(
        metrics=metrics,
        considerations={
            "out_of_scope_use": ["Adults."],
            "limitations": ["Small."],
            "ethical_considerations": ["Consent."],
        },
    )
    md = render_model_card(card.to_dict())
    # the headline (and the model index) is the fold mean, the papers' figure; the pooled AUC is beside it
    assert "**AUC 0.900 ± 0.050** (mean ± SD over 5 folds" in md and "value: 0.9000" in md
    assert "Pooled test AUC 0.910 (95% bootstrap CI 0.850-0.950" in md
    assert "Sensitivity at a fixed specificity of 0.90: 0.750 (95% bootstrap CI 0.600-0.850)" in md
    assert "| sex | F | 12 | 5/7 | 0.800 (0.400-0.960) |" in md and "too small to judge" in md
    assert "- Adults." in md and "- Small." in md and "- Consent." in md
