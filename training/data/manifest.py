"""The cohort: which photos, of whom, with which label.

Two ways in: a folder ``ROOT/<class>/*.jpg`` (every photo its own subject) or a CSV manifest with
columns ``path, subject_id, label`` and optional ``syndrome, age_months, sex, fold``. The papers
use one photo per child, so a repeated ``subject_id`` is refused unless the caller asks for
subject-grouped splits (all photos of a child then stay in one part of the cross-validation).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from facescreen.edge.photo import PHOTO_SUFFIXES, find_photos
from facescreen.edge.spreadsheet import read_table

REQUIRED_COLUMNS = ("path", "subject_id", "label")
OPTIONAL_COLUMNS = ("syndrome", "age_months", "sex", "fold")
DEFAULT_NEGATIVE_NAMES = ("control", "healthy", "normal", "unaffected")
_MAX_LISTED = 10


class ManifestError(ValueError):
    """The photo folder or manifest cannot be used as it is; the message says what to fix."""


@dataclass(frozen=True)
class Photo:
    """One photo of one subject. ``fold`` is a predefined test part, 0-based (the CSV says 1..k)."""

    path: Path
    subject_id: str
    label: str
    syndrome: str = ""
    age_months: float | None = None
    sex: str = ""
    fold: int | None = None
    extra: tuple[tuple[str, str], ...] = ()  # the manifest's other columns (for --subgroup COL)

    def __post_init__(self) -> None:
        if not self.subject_id:
            raise ManifestError(f"{self.path}: subject_id is empty")
        if not self.label:
            raise ManifestError(f"{self.path}: label is empty")
        if self.age_months is not None and not (math.isfinite(self.age_months) and self.age_months >= 0):
            raise ManifestError(f"{self.path}: age_months must be a number >= 0, got {self.age_months}")


@dataclass(frozen=True)
class Cohort:
    photos: tuple[Photo, ...]
    source: str
    grouped_by_subject: bool = False
    ignored_columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.photos:
            raise ManifestError(f"{self.source}: no photos found")
        if len({p.label for p in self.photos}) < 2:
            raise ManifestError(
                f"{self.source}: all photos have the label {self.photos[0].label!r}; "
                "screening needs at least two classes (e.g. control and syndromic)"
            )

    @property
    def labels(self) -> list[str]:
        return sorted({p.label for p in self.photos})

    @property
    def has_syndromes(self) -> bool:
        return any(p.syndrome for p in self.photos)

    @property
    def n_subjects(self) -> int:
        return len({p.subject_id for p in self.photos})


def load_cohort(source: str | Path, group_by_subject: bool = False, n_folds: int = 5) -> Cohort:
    """Read a photo folder or a CSV manifest and check it (see the module docstring)."""
    src = Path(source)
    if src.is_dir():
        cohort = _from_folder(src)
    elif src.is_file() and src.suffix.lower() == ".csv":
        cohort = _from_csv(src, n_folds)
    elif src.is_file():
        raise ManifestError(f"{src} is neither a folder of class sub-folders nor a .csv manifest")
    else:
        raise ManifestError(f"no such folder or manifest: {src}")
    _check_subjects(cohort.photos, group_by_subject, cohort.source)
    return Cohort(cohort.photos, cohort.source, group_by_subject, cohort.ignored_columns)


def _from_folder(root: Path) -> Cohort:
    photos = []
    for class_dir in sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")):
        for f in find_photos(class_dir):
            rel = f.relative_to(root).with_suffix("")
            photos.append(Photo(path=f.resolve(), subject_id=rel.as_posix(), label=class_dir.name))
    if not photos:
        raise ManifestError(f"{root}: expected class sub-folders with photos ({', '.join(PHOTO_SUFFIXES)}), found none")
    return Cohort(tuple(photos), str(root))


def _from_csv(path: Path, n_folds: int) -> Cohort:
    table = read_table(path, REQUIRED_COLUMNS, ManifestError)
    problems: list[str] = []
    missing_files: list[str] = []  # listed after the rows' own problems
    photos = []
    for line, r in table.rows:
        try:
            photo = _row_to_photo(r, path.parent, n_folds)
        except ManifestError as exc:
            problems.append(f"line {line}: {exc}")
            continue
        photos.append(photo)
        if not photo.path.is_file():
            missing_files.append(f"line {line}: {photo.path} does not exist")
    problems += missing_files
    if problems:
        raise ManifestError(_listing(f"{path}: {len(problems)} problem(s) in the manifest", problems))
    folds = [p.fold is not None for p in photos]
    if any(folds) and not all(folds):
        raise ManifestError(
            f"{path}: the fold column is filled for some rows only; fill it for every row or leave it empty"
        )
    ignored = tuple(c for c in table.columns if c and c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS)
    return Cohort(tuple(photos), str(path), ignored_columns=ignored)


def _row_to_photo(r: dict, base: Path, n_folds: int) -> Photo:
    if not r.get("path"):
        raise ManifestError("path is empty")
    p = Path(r["path"]).expanduser()
    age = r.get("age_months", "")
    try:
        age_months = float(age) if age else None
    except ValueError:
        raise ManifestError(f"age_months must be a number, got {age!r}") from None
    fold_raw = r.get("fold", "")
    fold = None
    if fold_raw:
        if not fold_raw.isdigit() or not 1 <= int(fold_raw) <= n_folds:
            raise ManifestError(
                f"fold must be an integer 1..{n_folds} (the fold that tests this photo), got {fold_raw!r}"
            )
        fold = int(fold_raw) - 1
    extra = tuple((k, v) for k, v in r.items() if k and k not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS)
    return Photo(
        path=(p if p.is_absolute() else base / p).resolve(),
        subject_id=r["subject_id"],
        label=r["label"],
        syndrome=r.get("syndrome", ""),
        age_months=age_months,
        sex=r.get("sex", ""),
        fold=fold,
        extra=extra,
    )


def _check_subjects(photos: tuple[Photo, ...], group_by_subject: bool, source: str) -> None:
    paths = Counter(p.path for p in photos)
    dup_paths = [f"{p} is listed {n} times" for p, n in paths.items() if n > 1]
    if dup_paths:
        raise ManifestError(_listing(f"{source}: the same photo is listed more than once", dup_paths))
    by_subject: dict[str, list[Photo]] = {}
    for p in photos:
        by_subject.setdefault(p.subject_id, []).append(p)
    repeated = {s: ps for s, ps in by_subject.items() if len(ps) > 1}
    if repeated and not group_by_subject:
        lines = [
            f"{s}: {len(ps)} photos ({', '.join(str(p.path.name) for p in ps[:3])}{', ...' if len(ps) > 3 else ''})"
            for s, ps in repeated.items()
        ]
        raise ManifestError(
            _listing(
                f"{source}: {len(repeated)} subject_id(s) have more than one photo. The papers' protocol is one photo "
                "per child; remove the extra photos, or pass --group-by-subject to keep them all in the same split",
                lines,
            )
        )
    inconsistent = []
    for s, ps in repeated.items():
        for attr in ("label", "syndrome", "fold"):
            values = {getattr(p, attr) for p in ps}
            if len(values) > 1:
                inconsistent.append(f"{s}: photos disagree on {attr} ({', '.join(sorted(map(str, values)))})")
    if inconsistent:
        raise ManifestError(_listing(f"{source}: photos of one subject must agree", inconsistent))


def _listing(head: str, items: list[str]) -> str:
    shown = items[:_MAX_LISTED]
    more = f"\n  ... and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
    return head + ":\n  " + "\n  ".join(shown) + more


def split_classes(labels: list[str], negative: tuple[str, ...] = ()) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(classes, positive_classes)``: negative classes first, then the positive (syndromic) ones.

    ``negative`` names the unaffected class(es); left empty, the one label among
    ``control/healthy/normal/unaffected`` is taken.
    """
    present = sorted(set(labels))
    if negative:
        unknown = [c for c in negative if c not in present]
        if unknown:
            raise ManifestError(f"negative class(es) {unknown} are not among the labels {present}")
        neg = tuple(negative)
    else:
        found = [c for c in present if c.lower() in DEFAULT_NEGATIVE_NAMES]
        if len(found) != 1:
            raise ManifestError(
                f"cannot tell which label is the unaffected class among {present}; "
                "name it with --negative-class (e.g. --negative-class control)"
            )
        neg = (found[0],)
    pos = tuple(c for c in present if c not in neg)
    if not pos:
        raise ManifestError(f"every label {present} is negative; at least one class must be syndromic")
    return neg + pos, pos


def cohort_summary(cohort: Cohort) -> str:
    """Counts per class and syndrome (and sex/age where given), printed before training."""
    photos = cohort.photos
    lines = [
        f"Cohort: {cohort.source}",
        f"  {len(photos)} photos of {cohort.n_subjects} subjects"
        + (" (grouped by subject)" if cohort.grouped_by_subject else " (one photo per subject)"),
    ]
    per_class = Counter(p.label for p in photos)
    syndromes = Counter((p.label, p.syndrome) for p in photos)
    width = max(len(c) for c in per_class) + 2
    for label in sorted(per_class):
        lines.append(f"  {label:<{width}}{per_class[label]:>6}")
        for (lab, syn), n in sorted(syndromes.items()):
            if lab == label and syn:
                lines.append(f"    - {syn:<{width}}{n:>6}")
    sexes = Counter(p.sex for p in photos if p.sex)
    if sexes:
        lines.append("  sex: " + ", ".join(f"{k} {v}" for k, v in sorted(sexes.items())))
    ages = [p.age_months for p in photos if p.age_months is not None]
    if ages:
        lines.append(
            f"  age (months): median {sorted(ages)[len(ages) // 2]:.0f}, range {min(ages):.0f}-{max(ages):.0f}"
            f" ({len(ages)} of {len(photos)} given)"
        )
    if any(p.fold is not None for p in photos):
        lines.append("  folds: predefined by the manifest's fold column")
    if cohort.ignored_columns:
        lines.append(f"  other manifest column(s), usable with --subgroup: {', '.join(cohort.ignored_columns)}")
    return "\n".join(lines)
