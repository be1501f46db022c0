"""Human readers against the model, as in the papers: each reader's calls on the same photos give a
(sensitivity, specificity) point; the point is placed on the model's pooled ROC and its bootstrap
band. A point below the band means the model did better than that reader at the reader's own
specificity; above it, the reader did better; inside it, no difference is shown.

The readers' CSV has columns ``reader_id, call`` and ``subject_id`` or ``path``. A call is
positive (syndromic/refer) or negative: 1/0, yes/no, true/false, positive/negative, refer/no, or
a class name of the cohort.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facescreen.edge.spreadsheet import read_table

from .metrics import BinaryMetrics, metrics_from_calls
from .roc_band import RocBand

POSITIVE_WORDS = {"1", "yes", "y", "true", "positive", "pos", "refer", "syndromic", "affected"}
NEGATIVE_WORDS = {"0", "no", "n", "false", "negative", "neg", "no_refer", "control", "healthy", "normal", "unaffected"}


class ReaderError(ValueError):
    """The readers' CSV cannot be used as it is."""


@dataclass(frozen=True)
class ReaderCalls:
    reader_id: str
    items: np.ndarray  # indices into the evaluated photos
    calls: np.ndarray  # 0/1
    n_unmatched: int  # calls on photos the model did not score (e.g. no face found)


@dataclass(frozen=True)
class ReaderResult:
    reader_id: str
    metrics: BinaryMetrics
    band_lower: float
    band_upper: float
    n_unmatched: int

    @property
    def verdict(self) -> str:
        if self.metrics.sensitivity < self.band_lower:
            return "below band (model better)"
        if self.metrics.sensitivity > self.band_upper:
            return "above band (reader better)"
        return "within band (no difference shown)"

    @property
    def outside_band(self) -> bool:
        return not self.band_lower <= self.metrics.sensitivity <= self.band_upper

    def to_dict(self) -> dict:
        return {
            "reader_id": self.reader_id,
            **self.metrics.to_dict(),
            "band_lower": self.band_lower,
            "band_upper": self.band_upper,
            "outside_band": self.outside_band,
            "verdict": self.verdict,
            "n_unmatched": self.n_unmatched,
        }


def parse_call(raw: str, positive_classes: tuple[str, ...], negative_classes: tuple[str, ...]) -> int:
    v = raw.strip().lower()
    if v in POSITIVE_WORDS or v in {c.lower() for c in positive_classes}:
        return 1
    if v in NEGATIVE_WORDS or v in {c.lower() for c in negative_classes}:
        return 0
    raise ReaderError(
        f"cannot read the call {raw!r}; use 1/0, yes/no, positive/negative or a class name "
        f"({', '.join(negative_classes + positive_classes)})"
    )


def load_reader_calls(
    path: str | Path,
    subject_ids: list[str],
    photo_paths: list[Path],
    positive_classes: tuple[str, ...],
    negative_classes: tuple[str, ...],
    all_subject_ids: set[str] | None = None,
    all_paths: set[Path] | None = None,
) -> list[ReaderCalls]:
    """Match every call to an evaluated photo (by ``subject_id``, else by ``path``).

    ``all_subject_ids``/``all_paths`` are the whole cohort's: a call on a cohort photo the model
    could not score is counted as unmatched; a call on a photo outside the cohort is an error.
    """
    p = Path(path)
    if not p.is_file():
        raise ReaderError(f"no such readers' CSV: {p}")
    table = read_table(p, error=ReaderError)
    cols = table.columns
    if "reader_id" not in cols or "call" not in cols or not ({"subject_id", "path"} & set(cols)):
        raise ReaderError(f"{p}: expected columns reader_id, call and subject_id or path; found {', '.join(cols)}")
    by_subject = "subject_id" in cols
    if by_subject and len(set(subject_ids)) != len(subject_ids):
        raise ReaderError(f"{p}: subjects have several photos (--group-by-subject); give the readers' calls by path")
    index = (
        {s: i for i, s in enumerate(subject_ids)}
        if by_subject
        else {Path(q).resolve(): i for i, q in enumerate(photo_paths)}
    )
    known = (all_subject_ids or set(subject_ids)) if by_subject else (all_paths or set(index))
    calls: dict[str, dict[int, int]] = {}
    unmatched: dict[str, int] = {}
    problems = []
    for line, r in table.rows:
        key = (
            r["subject_id"]
            if by_subject
            else (p.parent / r["path"]).resolve()
            if not Path(r["path"]).is_absolute()
            else Path(r["path"]).resolve()
        )
        rid = r["reader_id"]
        if not rid:
            problems.append(f"line {line}: reader_id is empty")
            continue
        try:
            call = parse_call(r["call"], positive_classes, negative_classes)
        except ReaderError as exc:
            problems.append(f"line {line}: {exc}")
            continue
        if key not in index:
            if key in known:
                unmatched[rid] = unmatched.get(rid, 0) + 1
            else:
                problems.append(f"line {line}: {key} is not in the cohort")
            continue
        mine = calls.setdefault(rid, {})
        if index[key] in mine:
            problems.append(f"line {line}: reader {rid} calls {key} twice")
            continue
        mine[index[key]] = call
    if problems:
        raise ReaderError(
            f"{p}: {len(problems)} problem(s):\n  "
            + "\n  ".join(problems[:10])
            + (f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else "")
        )
    if not calls:
        raise ReaderError(f"{p}: no call matches a photo the model scored")
    return [
        ReaderCalls(
            rid,
            np.array(sorted(c), dtype=np.int64),
            np.array([c[i] for i in sorted(c)], dtype=np.int64),
            unmatched.get(rid, 0),
        )
        for rid, c in sorted(calls.items())
    ]


def compare_readers(readers: list[ReaderCalls], y_true: np.ndarray, band: RocBand) -> list[ReaderResult]:
    """Each reader's metrics on the photos they called, and where their point falls on the band."""
    y = np.asarray(y_true, dtype=np.int64)
    out = []
    for r in readers:
        m = metrics_from_calls(y[r.items], r.calls)
        lo, hi = band.band_at(m.specificity)
        out.append(ReaderResult(r.reader_id, m, lo, hi, r.n_unmatched))
    return out
