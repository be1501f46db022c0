"""The training set as the cross-validation sees it: aligned faces, class indices, and who is who."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .align_cache import AlignedPhotos


@dataclass(frozen=True)
class TrainingData:
    faces: np.ndarray = field(repr=False)  # (N, S, S, 3) uint8 aligned RGB crops
    labels: np.ndarray = field(repr=False)  # (N,) class index into ``classes``
    classes: tuple[str, ...]
    positive_classes: tuple[str, ...]
    subject_ids: tuple[str, ...]
    paths: tuple[str, ...]
    strata: tuple[str, ...]  # stratification key of each photo (class[/syndrome])
    predefined_parts: np.ndarray | None = field(default=None, repr=False)  # 0-based, from the manifest
    notice: str = ""  # e.g. the synthetic-cohort notice
    # per photo: age_months (float or None), sex, syndrome and the manifest's other columns, for the
    # subgroup report; empty when the data were not built from a manifest
    info: tuple[dict, ...] = field(default=(), repr=False)
    digests: tuple[str, ...] = field(default=(), repr=False)  # SHA-256 of each photo file (may be empty)

    def __post_init__(self) -> None:
        n = len(self.labels)
        if (
            self.faces.ndim != 4
            or self.faces.shape[0] != n
            or self.faces.shape[-1] != 3
            or self.faces.dtype != np.uint8
        ):
            raise ValueError(f"expected ({n}, S, S, 3) uint8 faces, got {self.faces.shape} {self.faces.dtype}")
        if self.digests and len(self.digests) != n:
            raise ValueError(f"digests has {len(self.digests)} entries for {n} photos")
        if self.info and len(self.info) != n:
            raise ValueError(f"info has {len(self.info)} entries for {n} photos")
        for name in ("subject_ids", "paths", "strata"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries for {n} photos")
        if self.predefined_parts is not None and len(self.predefined_parts) != n:
            raise ValueError(f"predefined_parts has {len(self.predefined_parts)} entries for {n} photos")
        labels = np.asarray(self.labels, dtype=np.int64)
        if n and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise ValueError(
                f"labels must index the {len(self.classes)} classes, got values {sorted(set(labels.tolist()))}"
            )
        if not set(self.positive_classes) < set(self.classes):
            raise ValueError(f"positive classes {self.positive_classes} must be a proper subset of {self.classes}")
        object.__setattr__(self, "labels", labels)

    @property
    def size(self) -> int:
        return int(self.faces.shape[1])

    @property
    def positive(self) -> list[int]:
        return [self.classes.index(c) for c in self.positive_classes]

    @property
    def y_binary(self) -> np.ndarray:
        return np.isin(self.labels, self.positive).astype(np.int64)

    def class_counts(self) -> dict[str, int]:
        return {c: int((self.labels == k).sum()) for k, c in enumerate(self.classes)}

    def with_shuffled_labels(self, seed: int) -> TrainingData:
        """The negative control: (label, stratum) pairs permuted across subjects, faces unchanged."""
        subjects = list(dict.fromkeys(self.subject_ids))
        first = {s: self.subject_ids.index(s) for s in subjects}
        perm = np.random.default_rng(seed).permutation(len(subjects))
        source = {s: first[subjects[perm[i]]] for i, s in enumerate(subjects)}
        idx = np.array([source[s] for s in self.subject_ids])
        info = (
            tuple({**self.info[k], "syndrome": self.info[i].get("syndrome", "")} for k, i in enumerate(idx))
            if self.info
            else ()
        )
        return replace(
            self,
            labels=self.labels[idx],
            strata=tuple(self.strata[i] for i in idx),
            info=info,
            notice=(self.notice + " " if self.notice else "") + "LABELS SHUFFLED (negative control).",
        )

    @classmethod
    def from_aligned(
        cls,
        aligned: AlignedPhotos,
        classes: tuple[str, ...],
        positive: tuple[str, ...],
        stratify_by_syndrome: bool = True,
        notice: str = "",
    ) -> TrainingData:
        photos = aligned.photos
        unknown = sorted({p.label for p in photos} - set(classes))
        if unknown:
            raise ValueError(f"labels {unknown} are not among the classes {classes}")
        parts = [p.fold for p in photos]
        return cls(
            faces=aligned.faces,
            labels=np.array([classes.index(p.label) for p in photos], dtype=np.int64),
            classes=tuple(classes),
            positive_classes=tuple(positive),
            subject_ids=tuple(p.subject_id for p in photos),
            paths=tuple(str(p.path) for p in photos),
            strata=tuple(f"{p.label}/{p.syndrome}" if stratify_by_syndrome and p.syndrome else p.label for p in photos),
            predefined_parts=np.array(parts, dtype=np.int64) if photos and all(q is not None for q in parts) else None,
            notice=notice,
            info=tuple(
                {"age_months": p.age_months, "sex": p.sex, "syndrome": p.syndrome, **dict(p.extra)} for p in photos
            ),
            digests=tuple(aligned.digests),
        )
