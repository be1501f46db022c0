"""The reporting checklist of a cross-validated run: the topics of TRIPOD+AI (Collins et al., BMJ
2024;385:e078378; prediction models built with machine learning) and of STARD (Bossuyt et al., BMJ
2015;351:h5527; diagnostic accuracy studies, the base of STARD-AI) that a reviewer ticks.

Each item is answered from the run where the run knows the answer, and otherwise says plainly
``the user must state``: the run cannot know how the labels were established, who approved the
study or where the data can be had, and must not pretend to.
"""

from __future__ import annotations

import math

from facescreen.edge.card_markdown import USER_MUST_STATE


def _f(v, digits: int = 3) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def reporting_checklist(cfg, data, evaluation: dict, aligned=None, final_threshold=None) -> list[dict]:
    """``[{"topic", "guideline", "answer"}]``; ``answer`` None: the user must state it."""
    from facescreen import __version__

    counts = data.class_counts()
    auc = evaluation["auc"]
    cal = evaluation["calibration"]
    flow = evaluation.get("flow")
    pv = evaluation["predictive_values"]
    cl = evaluation["conf_level"]
    n_sub = len({(r["attribute"], r["group"]) for r in evaluation["subgroups"]})
    line = cal.get("line") or {}
    items = [
        ("Intended use, users and setting", "TRIPOD+AI, STARD", cfg.final.intended_use or None),
        (
            "Data source and participants (eligibility, recruitment, dates, setting)",
            "TRIPOD+AI, STARD",
            None,
        ),
        (
            "Outcome / reference standard (how each label was established, e.g. genetic testing)",
            "TRIPOD+AI, STARD",
            None,
        ),
        (
            "Index test (the screen) and its inputs",
            "TRIPOD+AI, STARD",
            f"one frontal face photo, {cfg.data.detector} detection, aligned to {cfg.model.input_size}x"
            f"{cfg.model.input_size}; backbone {cfg.model.backbone}; screening score = probability of "
            f"{', '.join(data.positive_classes)}",
        ),
        (
            "Sample size (and how it was decided)",
            "TRIPOD+AI, STARD",
            f"{len(data.labels)} photos of {len(set(data.subject_ids))} children analysed ("
            + ", ".join(f"{k} {v}" for k, v in counts.items())
            + "); how the size was decided: "
            + USER_MUST_STATE,
        ),
        (
            "Participant flow, missing data and indeterminate results",
            "TRIPOD+AI, STARD",
            (
                f"{flow['photos_in']} photos in, {flow['alignment_failures']} failed alignment (by class in the "
                f"flow table), {flow['photos_analysed']} analysed"
                if flow
                else None
            ),
        ),
        (
            "Analysis: validation, hyperparameters, threshold",
            "TRIPOD+AI",
            f"{cfg.cv.n_folds}-fold cross-validation, train:validation:test {cfg.cv.n_folds - 2}:1:1, children "
            f"never split; threshold `{cfg.threshold.rule}` on validation only; configuration in config.yaml",
        ),
        ("Class imbalance", "TRIPOD+AI", f"class weights `{cfg.fit.class_weight}`; folds stratified by class"),
        (
            "Performance with confidence intervals",
            "TRIPOD+AI, STARD",
            f"AUC {_f(auc['mean'])} ± {_f(auc['sd'])} over {auc['n_folds']} folds ({cl:.0%} CI "
            f"{_f(auc['ci'][0])}-{_f(auc['ci'][1])}); sensitivity, specificity and 2x2 tables per fold and pooled",
        ),
        (
            "Calibration",
            "TRIPOD+AI",
            f"Brier {_f(cal['pooled']['brier'])}, ECE {_f(cal['pooled']['ece'])}, slope {_f(line.get('slope'))}, "
            f"calibration-in-the-large {_f(line.get('intercept'))}",
        ),
        (
            "Predictive values at the intended use's prevalence",
            "STARD",
            (
                "PPV/NPV at " + ", ".join(f"{r['prevalence']:.3g}" for r in pv["rows"][1:])
                if pv["stated"]
                else "at the study's case-control prevalence only; the intended use's prevalence: "
                + USER_MUST_STATE
                + " (--prevalence)"
            ),
        ),
        (
            "Fairness: performance across subgroups",
            "TRIPOD+AI",
            f"{n_sub} subgroup rows with counts per class" if n_sub else None,
        ),
        (
            "Comparison with clinicians (readers' blinding and experience)",
            "STARD",
            (
                f"{len(evaluation['readers_paired'])} reader(s) compared on the same children; their blinding "
                f"and experience: {USER_MUST_STATE}"
                if evaluation["readers_paired"]
                else None
            ),
        ),
        (
            "Final model and its operating point",
            "TRIPOD+AI",
            (
                f"threshold {final_threshold.value:.4f} ({final_threshold.rule}); its validation sensitivity "
                f"{_f(final_threshold.validation_sensitivity)}, specificity "
                f"{_f(final_threshold.validation_specificity)} on {final_threshold.n_validation} photos"
                if final_threshold is not None
                else None
            ),
        ),
        ("Code and software", "TRIPOD+AI", f"facescreen {__version__}; seed {cfg.seed}"),
        ("Ethics approval and consent", "TRIPOD+AI, STARD", None),
        ("Data availability", "TRIPOD+AI", None),
        ("Funding and conflicts of interest", "TRIPOD+AI, STARD", None),
        ("Protocol and registration", "TRIPOD+AI, STARD", None),
        ("Patient and public involvement", "TRIPOD+AI", None),
    ]
    return [{"topic": t, "guideline": g, "answer": a} for t, g, a in items]
