"""Fold rotation as in the papers: every subject tested exactly once, no subject in two splits of a
fold, classes (and syndromes) balanced across parts, subjects never split."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from facescreen.training.splits import assign_parts, check_class_coverage, rotate_folds


def _cohort(n_per_class=23, photos_per_subject=1):
    strata, groups = [], []
    for label, syndromes in (("control", [""]), ("syndromic", ["wbs", "noonan", "down"])):
        for i in range(n_per_class):
            for _ in range(photos_per_subject):
                strata.append(f"{label}/{syndromes[i % len(syndromes)]}")
                groups.append(f"{label}-{i}")
    return strata, groups


@pytest.mark.parametrize("photos_per_subject", [1, 3])
def test_each_subject_tested_once_and_never_in_two_splits(photos_per_subject):
    strata, groups = _cohort(photos_per_subject=photos_per_subject)
    parts = assign_parts(strata, groups, n_parts=5, seed=7)
    folds = rotate_folds(parts, 5)
    tested = Counter(groups[i] for f in folds for i in f.test)
    assert set(tested) == set(groups)
    assert all(n == photos_per_subject for n in tested.values())  # each subject in exactly one test split
    for f in folds:
        subjects = [{groups[i] for i in split} for split in (f.train, f.val, f.test)]
        assert not (subjects[0] & subjects[1]) and not (subjects[0] & subjects[2]) and not (subjects[1] & subjects[2])
        assert len(f.train) + len(f.val) + len(f.test) == len(groups)


def test_rotation_is_test_k_validation_k_plus_1():
    parts = np.repeat(np.arange(5), 4)
    for k, f in enumerate(rotate_folds(parts, 5)):
        assert set(parts[f.test]) == {k}
        assert set(parts[f.val]) == {(k + 1) % 5}
        assert set(parts[f.train]) == set(range(5)) - {k, (k + 1) % 5}
        assert len(f.train) == 3 * len(f.test)  # 3:1:1


def test_classes_and_syndromes_are_balanced_across_parts():
    strata, groups = _cohort(n_per_class=40)
    parts = assign_parts(strata, groups, n_parts=5, seed=0)
    for s in set(strata):
        counts = np.bincount(parts[np.array(strata) == s], minlength=5)
        assert counts.max() - counts.min() <= 1, (s, counts)
    totals = np.bincount(parts, minlength=5)
    assert totals.max() - totals.min() <= 1


def test_same_seed_same_parts_other_seed_other_parts():
    strata, groups = _cohort()
    a, b, c = (assign_parts(strata, groups, 5, seed=s) for s in (1, 1, 2))
    assert (a == b).all() and (a != c).any()


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="two strata"):
        assign_parts(["a", "b"], ["s1", "s1"], 5)
    with pytest.raises(ValueError, match="missing part"):
        rotate_folds(np.array([0, 1, 2, 3, 3]), 5)
    with pytest.raises(ValueError, match="at least 5 subjects per class.*syndromic \\(3\\)"):
        check_class_coverage(np.arange(8) % 5, ["control"] * 5 + ["syndromic"] * 3, 5)
    with pytest.raises(ValueError, match="part 5 holds no photo of class"):
        check_class_coverage(np.array([0, 1, 2, 3, 4, 0, 1, 2, 3, 3]), ["control"] * 5 + ["syndromic"] * 5, 5)


def _data_with_copies(labels, subjects, digests, parts=None):
    from facescreen.training.data.dataset import TrainingData

    n = len(labels)
    return TrainingData(
        faces=np.zeros((n, 4, 4, 3), np.uint8),
        labels=np.array(labels),
        classes=("control", "syndromic"),
        positive_classes=("syndromic",),
        subject_ids=tuple(subjects),
        paths=tuple(f"p{i}.jpg" for i in range(n)),
        strata=tuple(("control", "syndromic")[k] for k in labels),
        predefined_parts=None if parts is None else np.array(parts),
        digests=tuple(digests),
    )


def test_byte_identical_photos_never_land_in_different_folds():
    """The same file under two subject ids (a photo filed twice): grouped by its SHA-256."""
    from facescreen.training.config import build_config
    from facescreen.training.cv import make_parts

    cfg = build_config("quick-cpu")
    n = 40
    labels = [i % 2 for i in range(n)]
    subjects = [f"s{i}" for i in range(n)]
    digests = [f"d{i}" for i in range(n)]
    copies = [(0, 2), (1, 3), (4, 6), (10, 12), (5, 7)]
    for a, b in copies:
        digests[b] = digests[a]
    for seed in range(5):
        parts = make_parts(_data_with_copies(labels, subjects, digests), replace(cfg, seed=seed))
        assert all(parts[a] == parts[b] for a, b in copies)
    # without the digests the same subjects are dealt independently, and some copies are split
    split = [make_parts(_data_with_copies(labels, subjects, [""] * n), replace(cfg, seed=s)) for s in range(5)]
    assert any(p[a] != p[b] for p in split for a, b in copies)


def test_byte_identical_photos_with_two_labels_or_two_manifest_folds_are_refused():
    from facescreen.training.config import build_config
    from facescreen.training.cv import make_parts

    cfg = build_config("quick-cpu")
    labels = [0, 1] * 10
    with pytest.raises(ValueError, match="different labels"):
        make_parts(
            _data_with_copies(labels, [f"s{i}" for i in range(20)], ["x", "x"] + [f"d{i}" for i in range(18)]), cfg
        )
    digests = ["x", "d1", "x"] + [f"d{i}" for i in range(3, 20)]
    with pytest.raises(ValueError, match="different folds"):
        make_parts(
            _data_with_copies(labels, [f"s{i}" for i in range(20)], digests, parts=[i % 5 for i in range(20)]), cfg
        )
