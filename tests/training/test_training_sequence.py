"""The keras.utils.PyDataset over the cached faces: equal batches, epochs as a pure function of the
batch index, seeds, weights."""

from __future__ import annotations

import numpy as np
import pytest

from facescreen.training.data.augment import AugmentConfig
from facescreen.training.data.sequence import FaceSequence, balanced_sample_weights

FACES = np.random.default_rng(0).integers(0, 255, (40, 32, 32, 3), dtype=np.uint8)
LABELS = np.array([0] * 30 + [1] * 10)


def test_an_epoch_covers_the_split_in_batches_of_one_size():
    idx = np.arange(5, 38)  # 33 photos, batch 8: 4 full batches and one filled up from the epoch's start
    seq = FaceSequence(FACES, LABELS, idx, 8, seed=1)
    assert seq.steps_per_epoch == 5 and seq.num_batches is None
    batches = [seq[i] for i in range(5)]
    assert all(x.shape == (8, 32, 32, 3) and x.dtype == np.float32 and y.dtype == np.int32 for x, y in batches)
    order = seq.epoch_order(0)
    assert sorted(order.tolist()) == idx.tolist()
    expected = np.concatenate([order, order[:7]])  # the last batch: the one remaining photo + the first 7
    np.testing.assert_array_equal(np.concatenate([x for x, _ in batches]), FACES[expected].astype(np.float32))
    with pytest.raises(IndexError):
        seq.batch(0, 5)


def test_batch_i_belongs_to_epoch_start_plus_i_div_steps():
    seq = FaceSequence(FACES, LABELS, np.arange(40), 8, augment=AugmentConfig(), seed=3)
    assert not np.array_equal(seq.epoch_order(0), seq.epoch_order(1))  # reshuffled every epoch
    resumed = FaceSequence(FACES, LABELS, np.arange(40), 8, augment=AugmentConfig(), seed=3, start_epoch=2)
    for i in range(5):  # a fit resumed at epoch 2 sees exactly what an unbroken one sees there
        np.testing.assert_array_equal(resumed[i][0], seq[2 * 5 + i][0])
        np.testing.assert_array_equal(resumed[i][0], seq.batch(2, i)[0])
    other = FaceSequence(FACES, LABELS, np.arange(40), 8, augment=AugmentConfig(), seed=4)
    assert not np.array_equal(other[0][0], seq[0][0])
    small = FaceSequence(FACES, LABELS, np.arange(3), 8)
    assert small.steps_per_epoch == 1 and small[0][0].shape[0] == 8  # fewer photos than a batch: repeated


def test_balanced_weights_and_no_shuffle_keeps_order():
    w = balanced_sample_weights(LABELS, 2)
    assert w[0] == pytest.approx(40 / (2 * 30)) and w[-1] == pytest.approx(40 / (2 * 10))
    assert (w * (LABELS == 0)).sum() == pytest.approx((w * (LABELS == 1)).sum())
    seq = FaceSequence(FACES, LABELS, np.arange(40), 10, shuffle=False, sample_weights=w)
    x, y, sw = seq[3]
    assert np.array_equal(y, LABELS[30:40]) and np.allclose(sw, w[30:40])
    assert np.array_equal(x, FACES[30:40].astype(np.float32))
