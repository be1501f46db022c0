"""The keras.utils.PyDataset over the cached faces: batches, epochs, seeds, weights."""
from __future__ import annotations

import numpy as np
import pytest

from training.data.augment import AugmentConfig
from training.data.sequence import FaceSequence, balanced_sample_weights

FACES = np.random.default_rng(0).integers(0, 255, (40, 32, 32, 3), dtype=np.uint8)
LABELS = np.array([0] * 30 + [1] * 10)


def test_batches_cover_the_split_once_per_epoch():
    idx = np.arange(5, 38)  # 33 photos, batch 8: 4 full batches and a lone photo, which sits out
    seq = FaceSequence(FACES, LABELS, idx, 8, seed=1)
    assert len(seq) == 4
    seen = np.concatenate([seq[i][1] for i in range(len(seq))])
    assert len(seen) == 32
    x, y = seq[0]
    assert x.dtype == np.float32 and x.shape == (8, 32, 32, 3) and y.dtype == np.int32
    first = [seq[i][0].copy() for i in range(len(seq))]
    seq.on_epoch_end()
    assert not all(np.array_equal(a, seq[i][0]) for i, a in enumerate(first))  # reshuffled
    with pytest.raises(IndexError):
        seq[4]


def test_two_photos_remaining_make_a_batch_and_order_is_seeded():
    assert len(FaceSequence(FACES, LABELS, np.arange(18), 8)) == 3
    a = FaceSequence(FACES, LABELS, np.arange(40), 8, augment=AugmentConfig(), seed=3)
    b = FaceSequence(FACES, LABELS, np.arange(40), 8, augment=AugmentConfig(), seed=3)
    for _ in range(2):
        assert all(np.array_equal(a[i][0], b[i][0]) for i in range(len(a)))
        a.on_epoch_end()
        b.on_epoch_end()


def test_balanced_weights_and_no_shuffle_keeps_order():
    w = balanced_sample_weights(LABELS, 2)
    assert w[0] == pytest.approx(40 / (2 * 30)) and w[-1] == pytest.approx(40 / (2 * 10))
    assert (w * (LABELS == 0)).sum() == pytest.approx((w * (LABELS == 1)).sum())
    seq = FaceSequence(FACES, LABELS, np.arange(40), 10, shuffle=False, sample_weights=w)
    x, y, sw = seq[3]
    assert np.array_equal(y, LABELS[30:40]) and np.allclose(sw, w[30:40])
    assert np.array_equal(x, FACES[30:40].astype(np.float32))
