"""The Keras data pipeline: a ``keras.utils.PyDataset`` over the cached aligned faces.

No tf.data in our code, so the same pipeline feeds TensorFlow and JAX. The dataset is an endless
stream of equal-sized batches in which batch ``i`` belongs to epoch ``start_epoch + i // steps``;
its photos (an order reshuffled every epoch) and its augmentation (a generator seeded by
``(seed, epoch, batch)``) are a pure function of ``i``. However far Keras prefetches, and whether
the fit ran unbroken or was resumed at an epoch, every batch is the same.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from .augment import AugmentConfig, augment_batch


class FaceSequence(keras.utils.PyDataset):
    def __init__(
        self,
        faces: np.ndarray,
        labels: np.ndarray,
        indices: np.ndarray,
        batch_size: int,
        augment: AugmentConfig | None = None,
        seed: int = 0,
        shuffle: bool = True,
        sample_weights: np.ndarray | None = None,
        start_epoch: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if len(indices) == 0:
            raise ValueError("a FaceSequence needs at least one face")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.faces, self.labels = faces, np.asarray(labels)
        self.indices = np.asarray(indices, dtype=np.int64)
        self.batch_size = int(batch_size)
        self.augment, self.seed, self.shuffle = augment, int(seed), shuffle
        self.sample_weights = None if sample_weights is None else np.asarray(sample_weights, np.float32)
        self.start_epoch = int(start_epoch)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.indices) / self.batch_size)

    @property
    def num_batches(self) -> None:
        return None  # an endless stream: fit() is given steps_per_epoch

    def epoch_order(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return self.indices
        return np.random.default_rng([self.seed, epoch]).permutation(self.indices)

    def batch(self, epoch: int, b: int):
        """Batch ``b`` of ``epoch``: ``(x float32, y int32[, sample weights])``."""
        if not 0 <= b < self.steps_per_epoch:
            raise IndexError(f"batch {b} out of range (0..{self.steps_per_epoch - 1})")
        order = self.epoch_order(epoch)
        idx = order[b * self.batch_size : (b + 1) * self.batch_size]
        if len(idx) < self.batch_size:
            # every batch has the same size: the last one is filled from the start of this epoch's
            # order (so the compiled step is traced once, and batch norm never sees a lone sample)
            idx = np.concatenate([idx, np.resize(order, self.batch_size - len(idx))])
        x = self.faces[idx]
        if self.augment is not None:
            x = augment_batch(x, np.random.default_rng([self.seed, epoch, b]), self.augment)
        x = x.astype(np.float32)
        y = self.labels[idx].astype(np.int32)
        if self.sample_weights is None:
            return x, y
        return x, y, self.sample_weights[idx]

    def __getitem__(self, i: int):
        epoch, b = divmod(int(i), self.steps_per_epoch)
        return self.batch(self.start_epoch + epoch, b)


def balanced_sample_weights(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-sample weights ``n / (K * n_k)`` (scikit-learn's "balanced"), for every sample."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    per_class = np.where(counts > 0, len(labels) / (n_classes * np.maximum(counts, 1)), 0.0)
    return per_class[labels].astype(np.float32)
