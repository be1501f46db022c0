"""The field report: groups assembled from a store and its outcomes, written as Markdown + JSON + plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from facescreen.edge.metrics import PSI_ALARM

from .stats import GroupFigures, Validation, group_figures


def build_report(
    rows: list[dict[str, Any]],
    outcomes: dict[str, str],
    cards: dict[tuple[str, str], dict],
    prevalence: float | None = None,
) -> dict[str, Any]:
    """``cards``: (model_id, version) -> the model card's ``metrics``. Groups: all results, each model
    version, each site (kiosk) within one model version."""
    rows = [r for r in rows if r.get("status", "completed") == "completed"]
    versions = sorted({(r["model_id"], r["model_version"]) for r in rows})

    def validation(key):
        return Validation.from_metrics(cards[key]) if key in cards else None

    groups: list[GroupFigures] = []
    only = versions[0] if len(versions) == 1 else None
    groups.append(group_figures("all results", rows, outcomes, validation(only) if only else None, prevalence))
    if only and only not in cards:
        groups[-1].not_assessed.append(f"no model card given for {only[0]} v{only[1]} (--bundle)")
    for key in versions:
        vrows = [r for r in rows if (r["model_id"], r["model_version"]) == key]
        if len(versions) > 1:
            groups.append(group_figures(f"model {key[0]} v{key[1]}", vrows, outcomes, validation(key), prevalence))
        for site in sorted({r["kiosk_id"] for r in vrows}):
            srows = [r for r in vrows if r["kiosk_id"] == site]
            groups.append(
                group_figures(f"site {site} (model {key[0]} v{key[1]})", srows, outcomes, validation(key), prevalence)
            )
    return {
        "alarms": [a for g in groups for a in g.alarms],
        "psi_alarm_level": PSI_ALARM,
        "groups": [g.to_dict() for g in groups],
    }


def _ci(t) -> str:
    return "n/a" if t is None else f"{t[0]:.2f} (95% CI {t[1]:.2f}-{t[2]:.2f})"


def markdown(report: dict[str, Any]) -> str:
    lines = ["# Field report", ""]
    if report["alarms"]:
        lines += ["## ALARM", ""] + [f"- **{a}**" for a in report["alarms"]] + [""]
    else:
        lines += [
            "No alarm: field PPV within what validation predicts and no score drift (PSI < "
            f"{report['psi_alarm_level']}) where they could be assessed.",
            "",
        ]
    lines += [
        "| group | screened | flagged | completed referrals | lost | completion | PPV | predicted PPV "
        "| prevalence | PSI |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for g in report["groups"]:
        prev = "n/a" if g["prevalence"] is None else f"{g['prevalence']:.3f} ({g['prevalence_source']})"
        psi = "n/a" if g["psi"] is None else f"{g['psi']:.3f}"
        lines.append(
            f"| {g['name']} | {g['n_screened']} | {g['n_flagged']} | {g['n_completed']} | {g['n_lost']} | "
            f"{_ci(g['completion'])} | {_ci(g['ppv'])} | {_ci(g['predicted_ppv'])} | {prev} | {psi} |"
        )
    lines += ["", "## Calibration (children with a genetic evaluation's answer)", ""]
    for g in report["groups"]:
        if g["calibration"]:
            lines += [
                f"### {g['name']}",
                "",
                "| probability bin | n | mean probability | observed (95% CI) |",
                "|---|---|---|---|",
            ]
            for c in g["calibration"]:
                lo, hi = c["observed_ci"]
                lines.append(
                    f"| {c['bin'][0]:.1f}-{c['bin'][1]:.1f} | {c['n']} | {c['mean_probability']:.2f} | "
                    f"{c['observed']:.2f} ({lo:.2f}-{hi:.2f}) |"
                )
            lines.append("")
    notes = [(g["name"], n) for g in report["groups"] for n in g["not_assessed"]]
    if notes:
        lines += ["## Not assessed", ""] + [f"- {name}: {n}" for name, n in notes] + [""]
    lines += [
        "PPV and calibration count only children whose genetic evaluation answered; children not flagged are "
        "seldom evaluated, so they describe the flagged children. Quality-failure rates are not in this report: "
        "the store keeps completed screenings only.",
        "",
    ]
    return "\n".join(lines)


def plots(report: dict[str, Any], out_dir: Path) -> list[str]:
    """Score distribution (field vs validation at the field's prevalence) and calibration, one PNG each
    for the first group that has them. Needs matplotlib; without it, says so instead of drawing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ["plots not drawn: matplotlib is not installed (pip install matplotlib)"]
    written = []
    g = next((g for g in report["groups"] if g["field_histogram"]), None)
    if g:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        n = sum(g["field_histogram"])
        x = [i / len(g["field_histogram"]) for i in range(len(g["field_histogram"]))]
        w = 1 / len(x)
        ax.bar(x, [c / n for c in g["field_histogram"]], width=w, align="edge", alpha=0.6, label="field")
        ax.step(
            x + [1.0],
            g["reference_histogram"] + g["reference_histogram"][-1:],
            where="post",
            color="k",
            label="validation at field prevalence",
        )
        ax.set_xlabel("screening probability")
        ax.set_ylabel("fraction of screenings")
        ax.set_title(f"{g['name']}: PSI {g['psi']:.2f}")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out_dir / "score_distribution.png", dpi=100)
        plt.close(fig)
        written.append("score_distribution.png")
    g = next((g for g in report["groups"] if g["calibration"]), None)
    if g:
        fig, ax = plt.subplots(figsize=(4, 4))
        cal = g["calibration"]
        ax.plot([0, 1], [0, 1], "k:", label="perfect")
        ax.errorbar(
            [c["mean_probability"] for c in cal],
            [c["observed"] for c in cal],
            yerr=[
                [c["observed"] - c["observed_ci"][0] for c in cal],
                [c["observed_ci"][1] - c["observed"] for c in cal],
            ],
            fmt="o-",
            label="field",
        )
        ax.set_xlabel("mean shipped probability")
        ax.set_ylabel("confirmed syndrome rate")
        ax.set_title(g["name"])
        ax.legend()
        fig.tight_layout()
        fig.savefig(out_dir / "calibration.png", dpi=100)
        plt.close(fig)
        written.append("calibration.png")
    return written


def write_report(report: dict[str, Any], out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = dict(report, plots=plots(report, out))
    (out / "field-report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    md = markdown(report) + "".join(f"\n![{p}]({p})\n" if p.endswith(".png") else f"\n{p}\n" for p in report["plots"])
    (out / "field-report.md").write_text(md, encoding="utf-8")
    return [out / "field-report.md", out / "field-report.json"]
