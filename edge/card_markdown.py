"""``MODEL_CARD.md``: the model card for people, rendered from ``modelcard.json`` (the one source).

Sections follow the Hugging Face model-card template (YAML front matter, model details, uses and
out-of-scope uses, training data, evaluation with intervals, subgroups, calibration, limitations,
ethical considerations). Only what the JSON holds is written; nothing is invented here.
"""

from __future__ import annotations

import math
from typing import Any


def _f(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _ci(lo: Any, hi: Any) -> str:
    return "-" if lo is None or hi is None else f"{_f(float(lo))}-{_f(float(hi))}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return (
        ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        + ["| " + " | ".join(r) + " |" for r in rows]
        + [""]
    )


def _bullets(items: list[str]) -> list[str]:
    return [f"- {i}" for i in items] + [""]


def _front_matter(card: dict) -> list[str]:
    cv = card.get("metrics", {}).get("cross_validation", {})
    lines = [
        "---",
        "library_name: keras",
        "pipeline_tag: image-classification",
        "license: other",
        "tags:",
        "  - medical-imaging",
        "  - screening",
        "  - research-only",
    ]
    if cv.get("pooled_auc") is not None:
        lines += [
            "model-index:",
            f"  - name: {card['model_id']}",
            "    results:",
            "      - task: {type: image-classification, name: referral screening}",
            "        metrics:",
            f"          - {{type: roc_auc, value: {cv['pooled_auc']:.4f}, name: pooled cross-validated AUC}}",
        ]
    return lines + ["---", ""]


def _details(card: dict) -> list[str]:
    classes = ", ".join(card["classes"])
    arts = ", ".join(f"`{n}` ({a.get('precision', '-')})" for n, a in card.get("artifacts", {}).items()) or "none"
    return [
        "## Model details",
        "",
        f"- Model id `{card['model_id']}`, version {card.get('version', '1')}, created {card.get('created_at', '-')} "
        f"with facescreen {card.get('software_version', '-')}.",
        f"- Backbone `{card['backbone']}`, initial weights `{card.get('initial_weights', '-')}`; input "
        f"{card['input']['size']}x{card['input']['size']} RGB aligned face (5-point template).",
        f"- Classes: {classes}; the screening score is the summed probability of "
        f"{', '.join(card['positive_classes'])}, flagged at >= {card['threshold']:.4f}.",
        f"- Artifacts: {arts}.",
        "",
    ]


def _uses(card: dict) -> list[str]:
    cons = card.get("considerations", {})
    out = ["## Uses", "", "### Intended use", "", card.get("intended_use", ""), ""]
    if card.get("not_for_clinical_use", True) and "not validated for clinical use" not in card.get("intended_use", ""):
        out += ["**Not a diagnostic device; not validated for clinical use.**", ""]
    out += ["### Out-of-scope use", ""] + _bullets(cons.get("out_of_scope_use", []))
    return out


def _training_data(card: dict) -> list[str]:
    td = card.get("training_data", {})
    if not td:
        return ["## Training data", "", "Not recorded.", ""]
    out = ["## Training data", ""]
    if td.get("notice"):
        out += [f"> **{td['notice']}**", ""]
    counts = td.get("class_counts", {})
    out += [
        f"- Source: `{td.get('source', '-')}` ({td.get('n_photos', '-')} photos of {td.get('n_subjects', '-')} "
        f"children; " + ", ".join(f"{k} {v}" for k, v in counts.items()) + ").",
        f"- Photos left out at alignment: {_f(td.get('left_out_at_alignment'))}; data fingerprint "
        f"`{str(td.get('fingerprint', '-'))[:16]}`.",
        f"- Final model: {td.get('final_model', '-')}.",
    ]
    for k, v in td.get("demographics", {}).items():
        out.append(f"- {k}: " + ", ".join(f"{g} {n}" for g, n in v.items()) + ".")
    return out + [""]


def _evaluation(card: dict) -> list[str]:
    m = card.get("metrics", {})
    cv = m.get("cross_validation")
    if not cv:
        return ["## Evaluation", "", "No evaluation recorded in this card.", ""]
    out = ["## Evaluation", "", f"{cv.get('kind', '')}.", ""]
    if cv.get("notice"):
        out += [f"> **{cv['notice']}**", ""]
    rows = [[k, f"{_f(v.get('mean'))} ± {_f(v.get('sd'))}"] for k, v in cv.get("mean_sd", {}).items()]
    out += _table(["metric (test splits)", "mean ± SD over folds"], rows)
    out += [
        f"Pooled test AUC {_f(cv.get('pooled_auc'))} (95% bootstrap CI "
        f"{_ci(*(cv.get('pooled_auc_ci') or [None, None]))}, {cv.get('bootstrap_resamples', '-')} resamples).",
        "",
    ]
    op = m.get("operating_point")
    if op:
        out += [
            "### Threshold policy and operating point",
            "",
            f"- Policy: {op['policy']}; chosen on validation data only.",
            f"- Pooled test sensitivity {_f(op['sensitivity'])} (95% CI {_ci(*op['sensitivity_ci'])}), "
            f"specificity {_f(op['specificity'])} (95% CI {_ci(*op['specificity_ci'])}) at the folds' thresholds.",
            f"- Sensitivity at a fixed specificity of {_f(op['fixed_specificity'], 2)}: "
            f"{_f(op['sensitivity_at_fixed_specificity'])} (95% bootstrap CI "
            f"{_ci(*op['sensitivity_at_fixed_specificity_ci'])}).",
            "",
        ]
    return out


def _subgroups(card: dict) -> list[str]:
    rows = card.get("metrics", {}).get("subgroups")
    if rows is None:
        return []
    if not rows:
        return ["## Subgroups", "", "The training data name no age, sex, syndrome or other subgroup column.", ""]
    out = [
        "## Subgroups",
        "",
        "Pooled test predictions per subgroup; 95% intervals (Wilson for sensitivity and "
        "specificity, Newcombe's score interval for AUC). A syndrome's row compares its children with all negatives.",
        "",
    ]
    body = [
        [
            r["attribute"],
            r["group"],
            str(r["n"]),
            f"{r['n_positive']}/{r['n_negative']}",
            f"{_f(r['sensitivity'])} ({_ci(*r['sensitivity_ci'])})",
            "-" if r["specificity"] is None else f"{_f(r['specificity'])} ({_ci(*r['specificity_ci'])})",
            f"{_f(r['auc'])} ({_ci(*r['auc_ci'])})",
            "too small to judge" if r["too_small"] else "",
        ]
        for r in rows
    ]
    return out + _table(["attribute", "group", "n", "pos/neg", "sensitivity", "specificity", "AUC", ""], body)


def _calibration(card: dict) -> list[str]:
    cal = card.get("metrics", {}).get("calibration")
    t = card.get("calibration", {})
    out = ["## Calibration", ""]
    if t.get("temperature", 1.0) != 1.0:
        out += [
            f"- Temperature scaling: T = {t['temperature']:.4f}, fitted on {t.get('fitted_on', 'validation data')}; "
            "every runtime applies it to the probabilities before the threshold.",
            "",
        ]
    else:
        out += ["- No temperature scaling: the probabilities are the network's softmax outputs.", ""]
    if cal:
        out += [
            f"- Pooled test predictions: Brier score {_f(cal['pooled']['brier'])}, expected calibration error "
            f"{_f(cal['pooled']['ece'])} ({len(cal['pooled']['counts'])} equal-width bins); per fold ECE "
            + ", ".join(_f(f["ece"]) for f in cal.get("folds", []))
            + ".",
            "",
        ]
    quant = [(n, a) for n, a in card.get("artifacts", {}).items() if a.get("output_quantisation")]
    for n, a in quant:
        q = a["output_quantisation"]
        out += [
            f"- `{n}` outputs quantised probabilities in steps of {q['scale']:.4f}; near the threshold the "
            f"score moves in steps of {_f(a.get('threshold_resolution'), 4)}.",
            "",
        ]
    return out


def render_model_card(card: dict) -> str:
    cons = card.get("considerations", {})
    lines = _front_matter(card) + [f"# Model card: {card['model_id']}", ""]
    notice = card.get("training_data", {}).get("notice")
    if notice:
        lines += [f"> **{notice}**", ""]
    lines += _details(card) + _uses(card) + _training_data(card) + _evaluation(card) + _subgroups(card)
    lines += _calibration(card)
    lines += ["## Limitations", ""] + _bullets(cons.get("limitations", []))
    lines += ["## Ethical considerations", ""] + _bullets(cons.get("ethical_considerations", []))
    lines += [f"Rendered from `modelcard.json` (schema {card.get('schema_version')}); that file is authoritative.", ""]
    return "\n".join(lines)
