"""Keras reference backend: the only backend that imports TensorFlow (or JAX, per KERAS_BACKEND)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BackendUnavailableError
from .base import check_batch, split_outputs


class KerasBackend:
    name = "keras"

    def __init__(self, path: Path, artifact: str, size: int, threads: int | None = None) -> None:
        try:
            import keras
        except ImportError:
            raise BackendUnavailableError("the keras backend needs keras (pip install 'facescreen[train]')") from None
        # the model's custom layers must be registered before loading
        self._model = keras.saving.load_model(str(path), compile=False)
        self.artifact = artifact
        self.size = size
        self.runtime = f"keras {keras.__version__} ({keras.backend.backend()})"

    def run(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = check_batch(images, self.size)
        # predict_on_batch runs the model as Keras serves it: traced once per input signature (a
        # tf.function or a JAX jit), then reused. Calling the model directly runs it eagerly, op by
        # op from Python on every call: the same answers (within float rounding), but 1.25x slower on
        # the VGG-16 and 6x on the 112-px demo screener, which the benchmark's Keras row then reported
        # as Keras's speed.
        out = self._model.predict_on_batch(x)
        outs = list(out.values()) if isinstance(out, dict) else list(out)
        return split_outputs([np.asarray(o) for o in outs])
