"""``report.md``: what was run on what, the per-fold and summary metrics, the readers' comparison
(VGG-16 paper Table 2 layout), the ROC figure and the heat-map panels."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from ..metrics import BINARY_METRICS
from .tables import FOLD_COLUMNS, HEADER, fold_rows, markdown_table

if TYPE_CHECKING:  # experiment imports this module
    from ..experiment import ExperimentResult


def _f(v) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def write_report(
    result: ExperimentResult, cohort_text: str, comparison: list[list[str]], extra_sections: list[str] = ()
) -> Path:
    cfg, data, band, summary, pooled = result.cfg, result.data, result.band, result.summary, result.pooled
    folds, multi, final_info, aligned = result.folds, result.multi, result.final_info, result.aligned
    n = cfg.cv.n_folds
    lines = ["# facescreen cross-validation report", ""]
    if data.notice:
        lines += [f"> **{data.notice}**", ""]
    lines += [
        "Research software; not a diagnostic device; not validated for clinical use.",
        "",
        "## Protocol",
        "",
        f"- Preset `{cfg.preset}`; backbone `{cfg.model.backbone}` at {cfg.model.input_size}x{cfg.model.input_size}, "
        f"head {list(cfg.model.head_filters)}, dropout {cfg.model.dropout}, initial weights `{cfg.model.init}`.",
        f"- Optimiser {cfg.optimiser.name} (learning rate {cfg.optimiser.learning_rate:g}), "
        f"batch {cfg.fit.batch_size}, "
        f"at most {cfg.fit.epochs} epochs, early stopping patience {cfg.fit.patience or 'off'} on {cfg.fit.monitor}; "
        "the best validation epoch is kept.",
        f"- Augmentation: rotation ±{cfg.augment.rotation_deg:g}°, "
        f"zoom {cfg.augment.scale[0]:g}-{cfg.augment.scale[1]:g}, "
        f"shift ±{cfg.augment.shift:g}, horizontal flip {'on' if cfg.augment.hflip else 'off'}, "
        f"RandAugment {cfg.augment.randaugment_n}x at magnitude {cfg.augment.randaugment_magnitude}"
        + ("" if cfg.augment.enabled else " (all augmentation off)")
        + ".",
        f"- {n}-fold cross-validation, stratified by class"
        + (" and syndrome" if cfg.cv.stratify_by_syndrome else "")
        + f", subjects never split; fold k: test = part k, validation = part k+1 (mod {n}), train = the other "
        f"{n - 2} parts (train:validation:test = {n - 2}:1:1).",
        f"- Threshold: `{cfg.threshold.rule}` ({cfg.threshold.policy}) chosen on each fold's validation split only"
        + "; the test split is scored once with it.",
        f"- Screening score: summed probability of the positive classes ({', '.join(data.positive_classes)}).",
        f"- SD is the sample SD (ddof=1) over the {n} folds. ROC band: {band.n_boot} stratified bootstrap "
        f"resamples of the pooled test predictions, {band.conf_level:.0%} percentile band of the sensitivity at "
        "each specificity (as pROC's ci.se).",
        f"- Seed {cfg.seed}; the full configuration is in `config.yaml`.",
        "",
        "## Data",
        "",
        "```",
        cohort_text or f"{len(data.labels)} photos",
        "```",
        "",
    ]
    if aligned is not None:
        left = aligned.left_out
        warned = [i for i in aligned.issues if not i.left_out]
        lines += [
            f"Alignment: {len(aligned.photos)} photos aligned; {len(left)} left out"
            + (f", {len(warned)} kept with a warning" if warned else "")
            + " (see `alignment_issues.csv`).",
            "",
        ]
    lines += [
        "## Results per fold (test splits)",
        "",
        markdown_table(FOLD_COLUMNS[:-4], [r[:-4] for r in fold_rows(folds)]),
        "",
        "## Summary",
        "",
        markdown_table(
            ("metric", "mean ± SD", f"{band.conf_level:.0%} t interval"),
            [
                [
                    k,
                    f"{_f(summary[k]['mean'])} ± {_f(summary[k]['sd'])}",
                    f"{_f(summary[k]['ci'][0])}-{_f(summary[k]['ci'][1])}",
                ]
                for k in BINARY_METRICS
            ],
        ),
        "",
        f"**Headline: AUC {_f(summary['auc']['mean'])} ± {_f(summary['auc']['sd'])}** (mean ± SD over the {n} folds, "
        f"each fold's model on its own test split, as the papers report; {band.conf_level:.0%} t interval "
        f"{_f(summary['auc']['ci'][0])}-{_f(summary['auc']['ci'][1])}).",
        "",
        f"Pooled test predictions ({band.n_positive} positive, {band.n_negative} negative): AUC {_f(band.auc)} "
        f"({band.conf_level:.0%} bootstrap CI {_f(band.auc_ci[0])}-{_f(band.auc_ci[1])}, {band.resampled} resampled). "
        "The pooled AUC ranks every test photo together although each fold's model scored its own, so it mixes "
        f"{n} score scales and moves with per-fold calibration; it is shown for the ROC figure. "
        "At each fold's own threshold: "
        f"accuracy {_f(pooled.accuracy)}, sensitivity {_f(pooled.sensitivity)}, specificity "
        f"{_f(pooled.specificity)}, precision {_f(pooled.precision)}, F1 {_f(pooled.f1)}.",
        "",
    ]
    if multi:
        rows = [
            [c, str(m["n"]), _f(m["precision"]), _f(m["recall"]), _f(m["f1"]), _f(m["auc"])]
            for c, m in multi["per_class"].items()
        ]
        lines += [
            "## Per class (pooled test predictions, arg-max class)",
            "",
            markdown_table(("class", "n", "precision", "recall", "F1", "AUC (one vs rest)"), rows),
            "",
            ", ".join(f"{k.replace('_', ' ')} {_f(v)}" for k, v in multi.items() if k != "per_class"),
            "",
        ]
    lines += [
        "## Readers and model",
        "",
        "Layout of the VGG-16 paper's Table 2: the readers' rows, then the model's mean ± SD over the folds. "
        "A reader point below the model's ROC band means the model did better at that reader's specificity.",
        "",
        markdown_table(HEADER, comparison),
        "",
    ]
    if not result.readers:
        lines += ["(No readers' CSV was given: pass `--readers readers.csv`.)", ""]
    lines += ["![ROC](roc.png)", ""]
    lines += list(extra_sections)
    panels = [f.panel for f in folds if f.panel]
    if panels:
        lines += [
            "## Heat maps (test faces of each fold)",
            "",
            "CAM: the model's exact class activation map; Grad-CAM: gradient-weighted backbone channels "
            "of the screening logit.",
            "",
        ]
        lines += [f"![{p}]({p})" for p in panels] + [""]
    if final_info:
        t = final_info["threshold"]
        lines += [
            "## Final model",
            "",
            f"- {final_info['description']}.",
            f"- Threshold {t['value']:.4f} ({t['rule']}); bundle `{Path(final_info['bundle']).name}/` "
            f"(model id `{final_info['model_id']}`), its model card carries the cross-validated metrics above.",
            f"- The shipped threshold on its own validation split ({t.get('n_validation', 0)} photos): sensitivity "
            f"{_f(t.get('validation_sensitivity'))}, specificity {_f(t.get('validation_specificity'))}"
            + ("; its target was NOT reached." if t.get("target_met") is False else "."),
            "",
        ]
    path = result.run_dir / "report.md"
    path.write_text("\n".join(lines))
    return path
