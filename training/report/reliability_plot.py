"""``reliability.png``: the reliability diagram of the pooled test predictions (and each fold's),
with the count of photos per bin beneath."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .figure import save_figure


def _curve(ax, curve: dict, **style) -> None:
    """One reliability curve, over its bins that hold a prediction (an empty bin has no mean)."""
    ok = [k for k, v in enumerate(curve["mean_predicted"]) if v is not None]
    ax.plot([curve["mean_predicted"][k] for k in ok], [curve["fraction_positive"][k] for k in ok], **style)


def plot_reliability(calibration: dict, path: Path, notice: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pooled = calibration["pooled"]
    edges = np.array(pooled["edges"])
    centres = (edges[:-1] + edges[1:]) / 2
    fig, (ax, hist) = plt.subplots(2, 1, figsize=(5.2, 6.2), gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=0.8, label="perfect calibration")
    for i, f in enumerate(calibration["folds"]):
        _curve(ax, f, color="grey", lw=0.8, alpha=0.5, marker=".", label="folds" if i == 0 else None)
    raw = calibration.get("pooled_without_temperature")
    if raw:
        _curve(
            ax,
            raw,
            color="tab:orange",
            lw=1.2,
            marker="s",
            ms=3,
            label=f"pooled, no temperature (ECE {raw['ece']:.3f})",
        )
    _curve(
        ax,
        pooled,
        color="tab:blue",
        lw=2,
        marker="o",
        label=f"pooled test (ECE {pooled['ece']:.3f}, Brier {pooled['brier']:.3f})",
    )
    ax.set(xlim=(0, 1), ylim=(0, 1.01), ylabel="observed fraction syndromic")
    ax.set_title("Reliability of the screening probability (cross-validated test predictions)", fontsize=9)
    ax.legend(loc="upper left", fontsize=7)
    hist.bar(centres, pooled["counts"], width=np.diff(edges) * 0.9, color="tab:blue", alpha=0.6)
    hist.set(xlabel="screening probability", ylabel="photos")
    return save_figure(fig, path, notice)
