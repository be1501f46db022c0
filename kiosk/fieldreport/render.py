"""The field report: groups assembled from a store and its outcomes, written as Markdown + JSON + plots."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from facescreen.edge.metrics import PSI_ALARM

from ..store import REFUSING_SOURCES, store_time
from .stats import RECENT_DAYS, REFERENCE_NOTE, GroupFigures, Validation, group_figures


def _recent_from(rows: list[dict[str, Any]], refusals: list[dict[str, Any]], days: int) -> str | None:
    """Where the recent window starts: ``days`` before the latest photo (screened or refused), in the
    store's time form; a report on the same data always draws the same window."""
    times = [r["created_at"] for r in rows if r.get("source") in REFUSING_SOURCES] + [r["created_at"] for r in refusals]
    if not times:
        return None
    latest = max(dt.datetime.fromisoformat(t) for t in times)
    return store_time(latest - dt.timedelta(days=days))


def build_report(
    rows: list[dict[str, Any]],
    outcomes: dict[str, str],
    cards: dict[tuple[str, str], dict],
    prevalence: float | None = None,
    refusals: list[dict[str, Any]] | None = None,
    recent_days: int = RECENT_DAYS,
) -> dict[str, Any]:
    """``cards``: (model_id, version) -> the model card's ``metrics``; ``refusals``: the store's quality
    refusals (None where they are not recorded: a FHIR server). Groups: all results, each model
    version, each site (kiosk) within one model version."""
    rows = [r for r in rows if r.get("status", "completed") == "completed"]
    refused = refusals or []
    versions = sorted({(r["model_id"], r["model_version"]) for r in [*rows, *refused]})
    recent_from = _recent_from(rows, refused, recent_days) if refusals is not None else None

    def validation(key):
        return Validation.from_metrics(cards[key]) if key in cards else None

    def group(name, key, site, v):
        def mine(r):
            return (key is None or (r["model_id"], r["model_version"]) == key) and (
                site is None or r["kiosk_id"] == site
            )

        grows = [r for r in rows if mine(r)]
        grefused = [r for r in refused if mine(r)] if refusals is not None else None
        return group_figures(name, grows, outcomes, v, prevalence, grefused, recent_from)

    groups: list[GroupFigures] = []
    only = versions[0] if len(versions) == 1 else None
    groups.append(group("all results", None, None, validation(only) if only else None))
    if only and only not in cards:
        groups[-1].not_assessed.append(f"no model card given for {only[0]} v{only[1]} (--bundle)")
    for key in versions:
        if len(versions) > 1:
            groups.append(group(f"model {key[0]} v{key[1]}", key, None, validation(key)))
        sites = {r["kiosk_id"] for r in [*rows, *refused] if (r["model_id"], r["model_version"]) == key}
        for site in sorted(sites):
            groups.append(group(f"site {site} (model {key[0]} v{key[1]})", key, site, validation(key)))
    return {
        "alarms": [a for g in groups for a in g.alarms],
        "psi_alarm_level": PSI_ALARM,
        "quality_refusals": {
            "reference": REFERENCE_NOTE,
            "recent_days": recent_days,
            "recent_from": recent_from,
            "alarm": "the recent window's 95% Wilson interval lies wholly above the earlier weeks'",
        },
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
            "No alarm: field PPV within what validation predicts, no score drift (PSI < "
            f"{report['psi_alarm_level']}, or within what sampling alone gives) and no rise in quality "
            "refusals where they could be assessed.",
            "",
        ]
    lines += [
        "| group | screened | flagged | completed referrals | lost | completion | PPV | predicted PPV "
        "| prevalence | PSI (by chance, 99%) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for g in report["groups"]:
        prev = "n/a" if g["prevalence"] is None else f"{g['prevalence']:.3f} ({g['prevalence_source']})"
        psi = "n/a" if g["psi"] is None else f"{g['psi']:.3f} ({g['psi_by_chance']:.3f})"
        lines.append(
            f"| {g['name']} | {g['n_screened']} | {g['n_flagged']} | {g['n_completed']} | {g['n_lost']} | "
            f"{_ci(g['completion'])} | {_ci(g['ppv'])} | {_ci(g['predicted_ppv'])} | {prev} | {psi} |"
        )
    q = report["quality_refusals"]
    lines += [
        "",
        "## Quality refusals (single photos refused for their quality)",
        "",
        f"Reference: {q['reference']}. Alarm: {q['alarm']}; recent window: the last {q['recent_days']} days"
        + (f" (from {q['recent_from']})." if q["recent_from"] else "."),
        "",
        "| group | single photos | refused | rate | recent window | before it | failed measures |",
        "|---|---|---|---|---|---|---|",
    ]
    for g in report["groups"]:
        reasons = ", ".join(f"{k} {n}" for k, n in sorted(g["refusal_reasons"].items(), key=lambda kv: -kv[1]))
        lines.append(
            f"| {g['name']} | {g['n_single_photos']} | {g['n_refused']} | {_ci(g['refusal_rate'])} | "
            f"{_ci(g['refusal_recent'])} | {_ci(g['refusal_before'])} | {reasons or '-'} |"
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
        "seldom evaluated, so they describe the flagged children. Quality refusals count the single photos sent "
        "to POST /v1/screen: guided captures (the kiosk window, phone sessions) guide until a frame passes and "
        "refuse nothing, and a tablet's refusals stay on the tablet.",
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
