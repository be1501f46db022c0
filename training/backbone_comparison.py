"""The Williams-Beuren paper's comparison in one run: the same cross-validation (the same parts, the
same thresholds policy) for each backbone, then one table and one figure across them.

No backbone is chosen on test folds. The table reports every backbone's test metrics (mean +- SD
over the folds) beside its mean best validation AUC; if one backbone must be named, it is the one
with the highest validation AUC, and the table says so. Each backbone's full run (report, model card,
bundle) stays in ``OUT/<backbone>/``.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from .config import TrainConfig
from .data.dataset import TrainingData
from .experiment import run_experiment
from .metrics import BINARY_METRICS, mean_sd
from .report.figure import save_figure
from .report.tables import markdown_table

log = logging.getLogger("training")
PAPER_BACKBONES = ("vgg16", "vgg19", "resnet18", "resnet34", "mobilenet_v2")
TABLE = "backbones.md"


def compare_backbones(
    data: TrainingData,
    cfg: TrainConfig,
    out: str | Path,
    backbones: tuple[str, ...] = PAPER_BACKBONES,
    readers_csv: str | Path | None = None,
    aligned=None,
    cohort_text: str = "",
    source: str = "",
) -> Path:
    """Cross-validate each backbone into ``out/<backbone>`` and write ``out/backbones.md``,
    ``backbones.csv`` and ``roc_backbones.png``; returns the table's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    for name in backbones:
        log.info("backbone %s (%d of %d)", name, len(rows) + 1, len(backbones))
        run_cfg = replace(cfg, model=replace(cfg.model, backbone=name))
        result = run_experiment(
            data, run_cfg, out / name, readers_csv=readers_csv, aligned=aligned, cohort_text=cohort_text, source=source
        )
        val_auc = mean_sd([f.fit.best_val_auc for f in result.folds])
        pooled = result.band
        rows.append(
            {
                "backbone": name,
                "summary": result.summary,
                "validation_auc": val_auc,
                "curve": (pooled.fpr, pooled.tpr),
                "pooled_auc": pooled.auc,
            }
        )
    chosen = max(rows, key=lambda r: -np.inf if np.isnan(r["validation_auc"][0]) else r["validation_auc"][0])
    _write_csv(rows, out / "backbones.csv")
    _plot(rows, out / "roc_backbones.png", data.notice)
    return _write_table(rows, chosen["backbone"], out / TABLE, data, cfg)


def _pm(d: dict) -> str:
    return "-" if np.isnan(d["mean"]) else f"{d['mean']:.3f} ± {d['sd']:.3f}"


def _write_table(rows: list[dict], chosen: str, path: Path, data: TrainingData, cfg: TrainConfig) -> Path:
    header = ("backbone", *BINARY_METRICS, "validation AUC (mean)")
    body = [
        [r["backbone"] + (" (highest validation AUC)" if r["backbone"] == chosen else "")]
        + [_pm(r["summary"][m]) for m in BINARY_METRICS]
        + [f"{r['validation_auc'][0]:.3f}"]
        for r in rows
    ]
    lines = ["# Backbone comparison (the Williams-Beuren paper's layout)", ""]
    if data.notice:
        lines += [f"> **{data.notice}**", ""]
    lines += [
        f"Classes: {', '.join(data.classes)}; screening positive: {', '.join(data.positive_classes)}. "
        f"{cfg.cv.n_folds}-fold cross-validation on the same parts for every backbone; test metrics are the "
        "mean ± SD over the folds. No backbone was chosen on test folds: if one must be named, it is the one "
        "with the highest mean validation AUC (marked). Each backbone's report is in its own folder.",
        "",
        markdown_table(header, body),
        "",
        "![ROC of each backbone](roc_backbones.png)",
        "",
    ]
    path.write_text("\n".join(lines))
    return path


def _write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["backbone"] + [f"{m}_{s}" for m in BINARY_METRICS for s in ("mean", "sd")] + ["validation_auc"])
        for r in rows:
            w.writerow(
                [r["backbone"]]
                + [r["summary"][m][s] for m in BINARY_METRICS for s in ("mean", "sd")]
                + [r["validation_auc"][0]]
            )


def _plot(rows: list[dict], path: Path, notice: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 5.6))
    for r in rows:
        fpr, tpr = r["curve"]
        auc = r["summary"]["auc"]
        ax.plot(fpr, tpr, lw=1.6, label=f"{r['backbone']} (AUC {auc['mean']:.3f} ± {auc['sd']:.3f})")
    ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=0.8)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", xlim=(0, 1), ylim=(0, 1.01), aspect="equal")
    ax.set_title("pooled test ROC per backbone; legend: fold mean ± SD", fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    return save_figure(fig, path, notice)


def load_table(out: str | Path) -> dict:
    """The comparison's rows from ``backbones.csv`` (for tests and tools)."""
    with open(Path(out) / "backbones.csv", newline="") as f:
        return {r["backbone"]: {k: float(v) for k, v in r.items() if k != "backbone"} for r in csv.DictReader(f)}
