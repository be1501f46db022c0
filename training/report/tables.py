"""Tables in the layout of the VGG-16 paper's Table 2: one row per human reader, then the model's
mean +- SD over the folds; rendered as Markdown (report) or plain text (terminal), and CSV."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from ..metrics import BINARY_METRICS, BinaryMetrics
from ..readers import ReaderResult

HEADER = ("", "Accuracy", "Sensitivity", "Specificity", "Precision", "F1", "AUC", "vs model ROC band")
FOLD_COLUMNS = (
    "fold",
    "n_train",
    "n_validation",
    "n_test",
    "threshold",
    "best_epoch",
    "epochs_run",
    *BINARY_METRICS,
    "tp",
    "fp",
    "tn",
    "fn",
)


def _f(v: float) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def _pm(d: dict) -> str:
    if d is None or math.isnan(d["mean"]):
        return "-"
    return f"{d['mean']:.3f} ± {d['sd']:.3f}" if not math.isnan(d["sd"]) else f"{d['mean']:.3f}"


def comparison_rows(readers: list[ReaderResult], summary: dict[str, dict], n_folds: int) -> list[list[str]]:
    rows = []
    for r in readers:
        m = r.metrics
        rows.append(
            [
                f"{r.reader_id} (n={m.n})",
                _f(m.accuracy),
                _f(m.sensitivity),
                _f(m.specificity),
                _f(m.precision),
                _f(m.f1),
                "-",
                r.verdict,
            ]
        )
    rows.append([f"Model (mean ± SD, {n_folds} folds)"] + [_pm(summary.get(k)) for k in BINARY_METRICS] + [""])
    return rows


def markdown_table(header: tuple[str, ...] | list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def text_table(header: tuple[str, ...] | list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    fmt = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])


def fold_rows(folds: list) -> list[list[str]]:
    rows = []
    for r in folds:
        m: BinaryMetrics = r.metrics
        rows.append(
            [
                str(r.index + 1),
                str(r.n_train),
                str(len(r.val_idx)),
                str(len(r.test_idx)),
                f"{r.threshold.value:.4f}",
                str(r.fit.best_epoch),
                str(r.fit.epochs_run),
            ]
            + [_f(getattr(m, k)) for k in BINARY_METRICS]
            + [str(m.tp), str(m.fp), str(m.tn), str(m.fn)]
        )
    return rows


def write_fold_csv(folds: list, summary: dict[str, dict], path: Path) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(FOLD_COLUMNS)
        for r in folds:
            m = r.metrics
            w.writerow(
                [
                    r.index + 1,
                    r.n_train,
                    len(r.val_idx),
                    len(r.test_idx),
                    r.threshold.value,
                    r.fit.best_epoch,
                    r.fit.epochs_run,
                ]
                + [getattr(m, k) for k in BINARY_METRICS]
                + [m.tp, m.fp, m.tn, m.fn]
            )
        for stat in ("mean", "sd"):
            w.writerow([stat] + [""] * 6 + [summary[k][stat] for k in BINARY_METRICS] + [""] * 4)
    return path


def write_reader_csv(readers: list[ReaderResult], path: Path) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        keys = list(readers[0].to_dict()) if readers else ["reader_id"]
        w.writerow(keys)
        for r in readers:
            d = r.to_dict()
            w.writerow([d[k] for k in keys])
    return path
