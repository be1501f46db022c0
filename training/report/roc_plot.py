"""``roc.png``: the pooled ROC of the test predictions with its bootstrap band, each fold's ROC,
and each human reader's (1 - specificity, sensitivity) point."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..readers import ReaderResult
from ..roc_band import RocBand
from .figure import save_figure

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")


def plot_roc(
    band: RocBand,
    fold_curves: list[tuple[np.ndarray, np.ndarray]],
    readers: list[ReaderResult],
    path: Path,
    title: str = "",
    notice: str = "",
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 5.6))
    x = 1.0 - band.specificities
    ax.fill_between(
        x,
        band.lower,
        band.upper,
        color="tab:blue",
        alpha=0.18,
        step=None,
        label=f"{band.conf_level:.0%} bootstrap band ({band.n_boot} resamples)",
    )
    for i, (f, t) in enumerate(fold_curves):
        ax.plot(f, t, color="grey", lw=0.8, alpha=0.5, label="folds" if i == 0 else None)
    ax.plot(
        band.fpr,
        band.tpr,
        color="tab:blue",
        lw=2,
        label=f"pooled test ROC, AUC {band.auc:.3f} ({band.auc_ci[0]:.3f}-{band.auc_ci[1]:.3f})",
    )
    for i, r in enumerate(readers):
        colour = "tab:red" if r.metrics.sensitivity < r.band_lower else "tab:green" if r.outside_band else "black"
        ax.scatter(
            [1.0 - r.metrics.specificity],
            [r.metrics.sensitivity],
            marker=MARKERS[i % len(MARKERS)],
            color=colour,
            s=45,
            zorder=5,
            label=f"{r.reader_id}: {r.verdict}",
        )
    ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=0.8)
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="1 - specificity", ylabel="sensitivity", aspect="equal")
    ax.set_title(title or "Screening ROC (cross-validated test predictions)", fontsize=10)
    ax.legend(loc="lower right", fontsize=7)
    return save_figure(fig, path, notice)
