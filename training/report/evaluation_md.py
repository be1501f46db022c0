"""The report's sections on calibration, the operating point, subgroups and paired comparisons
(from :func:`training.evaluation.evaluate`'s dictionary)."""

from __future__ import annotations

import math

from facescreen.edge.card_markdown import (
    SUBGROUP_HEADER,
    checklist_section,
    flow_section,
    predictive_values_section,
    subgroup_rows,
    two_by_two_section,
)

from ..evaluation import paired_wording
from .tables import markdown_table


def _f(v, digits: int = 3) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _ci(pair) -> str:
    lo, hi = pair
    return "-" if lo is None or hi is None or (isinstance(lo, float) and math.isnan(lo)) else f"{lo:.3f}-{hi:.3f}"


def _p(v: float) -> str:
    return "< 0.001" if v < 0.001 else f"{v:.3f}"


def evaluation_sections(
    ev: dict, temperature_scaling: bool, checklist: tuple[dict, ...] | list[dict] = ()
) -> list[str]:
    cal, op = ev["calibration"], ev["operating_point"]
    pooled = cal["pooled"]
    cl = ev["conf_level"]
    lines = [
        "## Calibration",
        "",
        (
            "Temperature scaling: each fold's temperature was fitted on its validation split only, and its "
            "threshold chosen on the scaled scores. "
            if temperature_scaling
            else "No temperature scaling (`--temperature-scaling` fits one on each validation split). "
        ),
        f"Brier score and expected calibration error (ECE) over {cal['bins']} equal-width bins:",
        "",
    ]
    rows = [
        [
            str(f["fold"]),
            _f(f["temperature"])
            + (
                f" (fitted {_f(f.get('temperature_fitted'))} at the end of its search range: not estimable, refused)"
                if f.get("temperature_at_bound")
                else ""
            ),
            _f(f["brier"]),
            _f(f["ece"]),
            str(f["n"]),
        ]
        for f in cal["folds"]
    ]
    rows.append(["pooled", "", _f(pooled["brier"]), _f(pooled["ece"]), str(pooled["n"])])
    raw = cal.get("pooled_without_temperature")
    if raw:
        rows.append(["pooled, no temperature", "1.000", _f(raw["brier"]), _f(raw["ece"]), str(raw["n"])])
    line = cal.get("line")
    lines += [
        markdown_table(("fold", "temperature", "Brier", "ECE", "n"), rows),
        "",
        (
            f"Calibration slope {_f(line['slope'])} (1 is ideal; below 1 the scores are too extreme) and "
            f"calibration-in-the-large {_f(line['intercept'])} (0 is ideal), pooled test predictions."
            if line
            else ""
        ),
        "",
        "![reliability](reliability.png)",
        "",
    ]
    lines += [
        "## Operating point",
        "",
        f"- Threshold policy: {op['policy']}, on each fold's validation split only.",
        f"- At the folds' thresholds, pooled test sensitivity {_f(op['sensitivity'])} ({cl:.0%} Wilson CI "
        f"{_ci(op['sensitivity_ci'])}), specificity {_f(op['specificity'])} ({_ci(op['specificity_ci'])}).",
        f"- Sensitivity at a fixed specificity of {op['fixed_specificity']:.2f} on the pooled ROC: "
        f"{_f(op['sensitivity_at_fixed_specificity'])} "
        f"({cl:.0%} bootstrap CI {_ci(op['sensitivity_at_fixed_specificity_ci'])}, "
        f"{op['bootstrap_resamples']} stratified resamples of {ev.get('unit', 'photos')}).",
        "",
    ]
    lines += two_by_two_section(ev.get("two_by_two"))
    lines += predictive_values_section(ev.get("predictive_values"))
    lines += flow_section(ev.get("flow"))
    if ev["subgroups"]:
        lines += [
            "## Subgroups",
            "",
            f"Pooled test predictions per subgroup, each photo at its fold's threshold; {cl:.0%} intervals: Wilson "
            "for sensitivity and specificity, Newcombe's score interval for AUC (honest in small groups). "
            "A syndrome's row compares its children with all negatives. Subgroups with fewer positives or "
            "negatives than the minimum are marked.",
            "",
            markdown_table(SUBGROUP_HEADER, subgroup_rows(ev["subgroups"], "**too small to judge**")),
            "",
        ]
        if ev.get("subgroup_note"):
            lines += [f"> {ev['subgroup_note']}", ""]
    if ev["readers_mcnemar"] or ev["delong"]:
        lines += ["## Paired comparisons on the same children", ""]
    if ev["readers_mcnemar"]:
        rows = [
            [
                m["name_b"],
                str(m["n"]),
                str(m["both_correct"]),
                str(m["only_a_correct"]),
                str(m["only_b_correct"]),
                str(m["both_wrong"]),
                _p(m["p_exact"]),
                f"{m['chi2']:.2f} (p {_p(m['p_chi2'])})",
                "-" if m.get("p_clustered") is None else f"{_p(m['p_clustered'])} ({m['n_children']} children)",
            ]
            for m in ev["readers_mcnemar"]
        ]
        lines += [
            "McNemar's test of correct calls, model (at each fold's threshold) against each reader, on the "
            "photos the reader called; exact two-sided binomial p-value on the discordant photos. Where a child "
            "has several photos, read the clustered p-value (Durkalski et al. 2003: children as the unit).",
            "",
            markdown_table(
                (
                    "reader",
                    "n",
                    "both right",
                    "only model right",
                    "only reader right",
                    "both wrong",
                    "p (exact)",
                    "chi² cc",
                    "p (children)",
                ),
                rows,
            ),
            "",
        ]
    if ev.get("readers_paired"):
        rows, words = [], []
        for r in ev["readers_paired"]:
            for name in ("sensitivity", "specificity"):
                d = r[name]
                if d is None:
                    continue
                rows.append(
                    [
                        r["reader"],
                        name,
                        str(d["n"]),
                        f"{_f(d['model'])} ({_ci(d['model_ci'])})",
                        f"{_f(d['reader'])} ({_ci(d['reader_ci'])})",
                        f"{d['only_model_right']} / {d['only_reader_right']}",
                        _p(d["p_value"]),
                    ]
                )
                words.append(f"- {r['reader']}, " + paired_wording(name, d, cl) + ".")
        lines += [
            "Sensitivity and specificity compared separately, each on the same children (McNemar's test on the "
            f"syndromic children, then on the controls; {cl:.0%} Wilson intervals). A test that shows no "
            "difference does not show equivalence; these children were not sampled to test one.",
            "",
            markdown_table(
                ("reader", "measure", "children", "model", "reader", "only model / only reader right", "p"), rows
            ),
            "",
            *words,
            "",
        ]
    if ev["delong"]:
        rows = [
            [
                d["name_b"],
                _f(d["auc_a"]),
                _f(d["auc_b"]),
                _f(d["difference"]),
                _ci(d["ci"]),
                f"{d['z']:.2f}",
                _p(d["p_value"]),
            ]
            for d in ev["delong"]
        ]
        lines += [
            "DeLong's test of this run's pooled test AUC against another run's, on the same test photos.",
            "",
            markdown_table(("other run", "AUC (this)", "AUC (other)", "difference", f"{cl:.0%} CI", "z", "p"), rows),
            "",
        ]
    lines += checklist_section(list(checklist))
    return lines
