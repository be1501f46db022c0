"""Cross-validation folds as in the papers: k parts (5 by default), stratified by class (and by
syndrome where the manifest gives one), subjects never split across parts; fold k rotates
train:validation:test = (k-2):1:1, i.e. 3:1:1 for five parts:

    fold k: test = part k, validation = part (k + 1) mod n, train = the other parts.

Each subject is therefore tested exactly once, and within a fold no subject is in two splits.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Fold:
    index: int  # 0-based; reports say "fold index + 1"
    train: np.ndarray = field(repr=False)
    val: np.ndarray = field(repr=False)
    test: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        for name in ("train", "val", "test"):
            arr = np.asarray(getattr(self, name), dtype=np.int64)
            if arr.ndim != 1 or arr.size == 0:
                raise ValueError(f"fold {self.index + 1}: the {name} split is empty")
            object.__setattr__(self, name, arr)
        overlap = (
            (set(self.train) & set(self.val)) | (set(self.train) & set(self.test)) | (set(self.val) & set(self.test))
        )
        if overlap:
            raise ValueError(f"fold {self.index + 1}: {len(overlap)} photo(s) are in two splits")


def identical_photo_groups(subject_ids: Sequence[str], digests: Sequence[str]) -> list[str]:
    """Each photo's splitting group: its subject, merged with every subject that holds a
    byte-identical photo (same SHA-256), so that one image can never be trained on and tested.
    Returns the group name of each photo (the first subject of its merged group)."""
    parent = {s: s for s in subject_ids}

    def root(s: str) -> str:
        while parent[s] != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    owner: dict[str, str] = {}
    for sid, d in zip(subject_ids, digests):
        if not d:
            continue
        if d in owner:
            a, b = root(owner[d]), root(sid)
            if a != b:
                parent[b] = a
        else:
            owner[d] = sid
    return [root(s) for s in subject_ids]


def assign_parts(strata: Sequence[str], groups: Sequence[str], n_parts: int = 5, seed: int = 0) -> np.ndarray:
    """Part (0..n_parts-1) of every photo: groups (subjects) are dealt stratum by stratum to the
    part that holds the fewest photos of that stratum (ties: fewest photos overall, then random)."""
    strata, groups = list(map(str, strata)), list(map(str, groups))
    if len(strata) != len(groups):
        raise ValueError(f"strata ({len(strata)}) and groups ({len(groups)}) differ in length")
    if n_parts < 3:
        raise ValueError(f"need at least 3 parts (train, validation, test), got {n_parts}")
    members: dict[str, list[int]] = defaultdict(list)
    group_stratum: dict[str, str] = {}
    for i, (s, g) in enumerate(zip(strata, groups)):
        if group_stratum.setdefault(g, s) != s:
            raise ValueError(f"subject {g!r} has photos in two strata ({group_stratum[g]!r}, {s!r})")
        members[g].append(i)
    rng = np.random.default_rng(seed)
    parts = np.full(len(strata), -1, dtype=np.int64)
    total = np.zeros(n_parts, dtype=np.int64)
    by_stratum: dict[str, list[str]] = defaultdict(list)
    for g, s in group_stratum.items():
        by_stratum[s].append(g)
    for s in sorted(by_stratum):
        gs = [by_stratum[s][i] for i in rng.permutation(len(by_stratum[s]))]
        gs.sort(key=lambda g: -len(members[g]))  # stable: big groups first, random among equals
        in_stratum = np.zeros(n_parts, dtype=np.int64)
        for g in gs:
            tie = rng.permutation(n_parts)
            p = min(range(n_parts), key=lambda q: (in_stratum[q], total[q], tie[q]))
            parts[members[g]] = p
            in_stratum[p] += len(members[g])
            total[p] += len(members[g])
    return parts


def rotate_folds(parts: np.ndarray, n_parts: int = 5) -> list[Fold]:
    """The papers' rotation: fold k tests part k, validates on part k+1 (mod n), trains on the rest."""
    parts = np.asarray(parts)
    missing = sorted(set(range(n_parts)) - set(parts.tolist()))
    if missing or parts.min() < 0 or parts.max() >= n_parts:
        raise ValueError(
            f"every part 0..{n_parts - 1} needs photos; missing part(s) {missing} "
            f"(found parts {sorted(set(parts.tolist()))})"
        )
    folds = []
    for k in range(n_parts):
        v = (k + 1) % n_parts
        folds.append(
            Fold(
                k,
                train=np.flatnonzero((parts != k) & (parts != v)),
                val=np.flatnonzero(parts == v),
                test=np.flatnonzero(parts == k),
            )
        )
    return folds


def check_class_coverage(parts: np.ndarray, labels: Sequence[str], n_parts: int) -> None:
    """Every part must hold every class: validation needs both to choose a threshold, test to score."""
    labels = list(labels)
    counts = Counter(labels)
    short = {c: n for c, n in counts.items() if n < n_parts}
    if short:
        raise ValueError(
            f"{n_parts}-fold cross-validation needs at least {n_parts} subjects per class; "
            f"too few: {', '.join(f'{c} ({n})' for c, n in sorted(short.items()))}"
        )
    for p in range(n_parts):
        present = {lab for lab, q in zip(labels, parts) if q == p}
        lacking = sorted(set(counts) - present)
        if lacking:
            raise ValueError(
                f"part {p + 1} holds no photo of class(es) {lacking}; check the fold column "
                "(or let facescreen assign the folds)"
            )
