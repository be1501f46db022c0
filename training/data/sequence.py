"""The Keras data pipeline: a ``keras.utils.PyDataset`` over the cached aligned faces.

No tf.data, so the same code feeds TensorFlow and JAX. Batches are drawn in an order reshuffled
every epoch and augmented with a generator seeded by ``(seed, epoch, batch)``: a run is
reproducible, and so is any batch on its own whatever the worker threads do.
"""
from __future__ import annotations

import math

import keras
import numpy as np

from .augment import AugmentConfig, augment_batch


class FaceSequence(keras.utils.PyDataset):
    def __init__(self, faces: np.ndarray, labels: np.ndarray, indices: np.ndarray, batch_size: int,
                 augment: AugmentConfig | None = None, seed: int = 0, shuffle: bool = True,
                 sample_weights: np.ndarray | None = None, **kwargs) -> None:
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
        self.epoch = 0
        self._order = self._epoch_order()

    def _epoch_order(self) -> np.ndarray:
        if not self.shuffle:
            return self.indices
        return np.random.default_rng([self.seed, self.epoch]).permutation(self.indices)

    def __len__(self) -> int:
        n = len(self.indices)
        full, rest = divmod(n, self.batch_size)
        # a final batch of one sample would give batch normalisation a zero variance: drop it
        # (the epoch order changes, so a different sample sits out each epoch)
        return full + (1 if rest > 1 or (rest == 1 and full == 0) else 0)

    def __getitem__(self, i: int):
        if not 0 <= i < len(self):
            raise IndexError(f"batch {i} out of range (0..{len(self) - 1})")
        idx = self._order[i * self.batch_size:(i + 1) * self.batch_size]
        x = self.faces[idx]
        if self.augment is not None:
            x = augment_batch(x, np.random.default_rng([self.seed, self.epoch, i]), self.augment)
        x = x.astype(np.float32)
        y = self.labels[idx].astype(np.int32)
        if self.sample_weights is None:
            return x, y
        return x, y, self.sample_weights[idx]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order = self._epoch_order()


def balanced_sample_weights(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-sample weights ``n / (K * n_k)`` (scikit-learn's "balanced"), for every sample."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    per_class = np.where(counts > 0, len(labels) / (n_classes * np.maximum(counts, 1)), 0.0)
    return per_class[labels].astype(np.float32)


def n_batches(n: int, batch_size: int) -> int:
    return math.ceil(n / batch_size)
