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
    if lo is None or hi is None or math.isnan(float(lo)) or math.isnan(float(hi)):
        return "-"
    return f"{_f(float(lo))}-{_f(float(hi))}"


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
    head = cv.get("auc_headline") or {}
    if head.get("mean") is not None:  # the papers' figure: each fold's model on its own test split
        lines += [
            "model-index:",
            f"  - name: {card['model_id']}",
            "    results:",
            "      - task: {type: image-classification, name: referral screening}",
            "        metrics:",
            f"          - {{type: roc_auc, value: {head['mean']:.4f}, name: cross-validated AUC (mean over folds)}}",
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
    cl = _pct(cv.get("conf_level"))
    head = cv.get("auc_headline")
    if head:
        out += [
            f"**AUC {_f(head['mean'])} ± {_f(head['sd'])}** (mean ± SD over {head['n_folds']} folds, each "
            f"fold's model on its own test split; {cl} t interval {_ci(*head['ci'])}).",
            "",
        ]
    rows = [[k, f"{_f(v.get('mean'))} ± {_f(v.get('sd'))}"] for k, v in cv.get("mean_sd", {}).items()]
    out += _table(["metric (test splits)", "mean ± SD over folds"], rows)
    out += [
        f"Pooled test AUC {_f(cv.get('pooled_auc'))} ({cl} bootstrap CI "
        f"{_ci(*(cv.get('pooled_auc_ci') or [None, None]))}, {cv.get('bootstrap_resamples', '-')} resamples of "
        f"{cv.get('resampled', 'photos')}). {cv.get('pooled_auc_note', '')}".rstrip(),
        "",
    ]
    op = m.get("operating_point")
    if op:
        out += [
            "### Threshold policy and operating point",
            "",
            f"- Policy: {op['policy']}; chosen on validation data only.",
            f"- Pooled test sensitivity {_f(op['sensitivity'])} ({cl} CI {_ci(*op['sensitivity_ci'])}), "
            f"specificity {_f(op['specificity'])} ({cl} CI {_ci(*op['specificity_ci'])}) at the folds' thresholds.",
            f"- Sensitivity at a fixed specificity of {_f(op['fixed_specificity'], 2)}: "
            f"{_f(op['sensitivity_at_fixed_specificity'])} ({cl} bootstrap CI "
            f"{_ci(*op['sensitivity_at_fixed_specificity_ci'])}).",
            "",
        ]
    t = m.get("threshold")
    if t:
        out += [
            f"- This bundle's threshold {_f(t.get('value'), 4)} ({t.get('rule')}): on its own validation "
            f"split ({t.get('n_validation')} photos) sensitivity {_f(t.get('validation_sensitivity'))}, "
            f"specificity {_f(t.get('validation_specificity'))}"
            + ("; its target was NOT reached." if t.get("target_met") is False else "."),
            "",
        ]
    out += two_by_two_section(m.get("two_by_two"))
    out += predictive_values_section(m.get("predictive_values"))
    out += flow_section(m.get("flow"))
    return out


def _cv(card: dict) -> dict:
    return card.get("metrics", {}).get("cross_validation", {})


def _pct(conf_level) -> str:
    return f"{conf_level:.0%}" if conf_level else "95%"


def two_by_two_section(rows: list[dict] | None) -> list[str]:
    """The 2x2 tables of each fold's test split and of the pooled test predictions."""
    if not rows:
        return []
    body = [[str(r["fold"]), str(r["tp"]), str(r["fp"]), str(r["fn"]), str(r["tn"])] for r in rows]
    return ["### 2x2 tables (test splits, each at its fold's threshold)", ""] + _table(
        ["fold", "TP", "FP", "FN", "TN"], body
    )


def predictive_values_section(pv: dict | None) -> list[str]:
    """PPV and NPV at the study's prevalence and at each stated intended-use prevalence."""
    if not pv:
        return []
    body = [[r["setting"], f"{r['prevalence']:.3g}", _f(r["ppv"]), _f(r["npv"])] for r in pv["rows"]]
    out = [
        "### Predictive values",
        "",
        f"From the pooled sensitivity {_f(pv['sensitivity'])} and specificity {_f(pv['specificity'])} by Bayes' "
        "theorem. The study's case-control mix is not a clinic's prevalence.",
        "",
    ] + _table(["setting", "prevalence", "PPV", "NPV"], body)
    if not pv.get("stated"):
        out += [f"The prevalence of the intended use: **{USER_MUST_STATE}** (`--prevalence`).", ""]
    return out


def flow_section(flow: dict | None) -> list[str]:
    """Participant flow: photos in, alignment failures by class, photos analysed."""
    if not flow:
        return []
    body = [
        [c, str(v["in"]), ", ".join(f"{r} {n}" for r, n in v["failed"].items()) or "0", str(v["analysed"])]
        for c, v in flow["by_class"].items()
    ]
    return (
        [
            "### Participant flow",
            "",
            f"{flow['photos_in']} photos of {flow['children_in']} children in; {flow['alignment_failures']} could "
            f"not be aligned; {flow['photos_analysed']} analysed, {flow['photos_tested']} scored on a test split.",
            "",
        ]
        + _table(["class", "photos in", "alignment failures", "analysed"], body)
        + [
            f"Counting each failure as a screening result (a syndromic child missed, a control referred): "
            f"sensitivity {_f(flow['sensitivity_counting_failures'])}, specificity "
            f"{_f(flow['specificity_counting_failures'])}.",
            "",
        ]
    )


SUBGROUP_HEADER = ("attribute", "group", "n", "pos/neg", "sensitivity", "specificity", "AUC", "")


def subgroup_rows(rows: list[dict], too_small: str = "too small to judge") -> list[list[str]]:
    """The subgroup table's cells (SUBGROUP_HEADER), as the model card and the training report show them;
    an estimate with no value (no negatives in the group: no specificity) shows as "-"."""

    def estimate(r: dict, key: str) -> str:
        return "-" if _f(r[key]) == "-" else f"{_f(r[key])} ({_ci(*r[key + '_ci'])})"

    return [
        [
            r["attribute"],
            r["group"],
            str(r["n"]),
            f"{r['n_positive']}/{r['n_negative']}",
            estimate(r, "sensitivity"),
            estimate(r, "specificity"),
            estimate(r, "auc"),
            too_small if r["too_small"] else "",
        ]
        for r in rows
    ]


def _subgroups(card: dict) -> list[str]:
    rows = card.get("metrics", {}).get("subgroups")
    if rows is None:
        return []
    if not rows:
        return ["## Subgroups", "", "The training data name no age, sex, syndrome or other subgroup column.", ""]
    out = [
        "## Subgroups",
        "",
        f"Pooled test predictions per subgroup; {_pct(_cv(card).get('conf_level'))} "
        "intervals (Wilson for sensitivity and specificity, Newcombe's score interval for AUC). A syndrome's "
        "row compares its children with all negatives.",
        "",
    ]
    note = card.get("metrics", {}).get("subgroup_note")
    if note:
        out += [f"> {note}", ""]
    return out + _table(list(SUBGROUP_HEADER), subgroup_rows(rows))


def _calibration(card: dict) -> list[str]:
    cal = card.get("metrics", {}).get("calibration")
    t = card.get("calibration", {})
    out = ["## Calibration", ""]
    if t.get("temperature", 1.0) != 1.0:
        out += [
            f"- Temperature scaling: T = {t['temperature']:.4f}, fitted on {t.get('fitted_on', 'validation data')}; "
            "every runtime applies it to the probabilities before the threshold (the edge Screener for Keras, "
            "LiteRT, ONNX Runtime and TensorRT; the tablet app's core/screening.js for the browser).",
            "",
        ]
    elif t.get("at_bound"):
        out += [
            f"- Temperature scaling was asked for, but the fit stopped at its search bound ({_f(t.get('fitted'))}): "
            "not estimable from the validation split, so refused; the probabilities are the softmax outputs.",
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
        line = cal.get("line")
        if line:
            out += [
                f"- Calibration slope {_f(line['slope'])} (1 is ideal; below 1 the scores are too extreme) and "
                f"calibration-in-the-large {_f(line['intercept'])} (0 is ideal).",
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
    lines += checklist_section(card.get("metrics", {}).get("checklist") or [])
    lines += ["## Limitations", ""] + _bullets(cons.get("limitations", []))
    lines += ["## Ethical considerations", ""] + _bullets(cons.get("ethical_considerations", []))
    lines += [f"Rendered from `modelcard.json` (schema {card.get('schema_version')}); that file is authoritative.", ""]
    return "\n".join(lines)


USER_MUST_STATE = "the user must state"


def checklist_section(items: list[dict]) -> list[str]:
    """The TRIPOD+AI / STARD checklist (``training.report.checklist`` answers it) as Markdown: the
    same section in the model card and in the run's report."""
    if not items:
        return []
    lines = [
        "## Reporting checklist (TRIPOD+AI / STARD)",
        "",
        "Each item is answered from the training run, or marked **the user must state** where only the "
        "study team knows the answer.",
        "",
    ]
    rows = [[i["topic"], i["guideline"], i["answer"] or f"**{USER_MUST_STATE}**"] for i in items]
    return lines + _table(["topic", "guideline", "answer"], rows)
