"""Saving a report figure: one place for the notice line (SYNTHETIC cohort, not for clinical use),
the layout that leaves room for it, and the resolution every report figure shares."""

from __future__ import annotations

from pathlib import Path


def save_figure(fig, path: Path, notice: str = "") -> Path:
    import matplotlib.pyplot as plt

    if notice:
        fig.text(0.5, 0.005, notice, ha="center", va="bottom", fontsize=6, wrap=True)
    fig.tight_layout(rect=(0, 0.04 if notice else 0, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path
