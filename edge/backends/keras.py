"""Keras reference backend: the only backend that imports TensorFlow (or JAX, per KERAS_BACKEND)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BackendUnavailableError
from .base import check_batch, inference_threads, split_outputs


class KerasBackend:
    name = "keras"

    def __init__(self, path: Path, artifact: str, size: int, threads: int | None = None) -> None:
        try:
            import keras
        except ImportError:
            raise BackendUnavailableError("the keras backend needs keras (pip install 'facescreen[train]')") from None
        backend = keras.backend.backend()
        threads_run = _set_threads(backend, inference_threads(threads))  # before load_model starts TensorFlow
        # the model's custom layers must be registered before loading
        self._model = keras.saving.load_model(str(path), compile=False)
        self.artifact = artifact
        self.size = size
        self.runtime = f"keras {keras.__version__} ({backend}, {threads_run})"

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


def _set_threads(backend: str, n: int) -> str:
    """Run TensorFlow's ops on ``n`` threads, the count every other backend runs (its own default is
    every core: on a machine with more cores than ``default_threads()`` takes, the benchmark's Keras
    row, the reference the others are read against, would have had more cores than they). TensorFlow
    fixes the count when it starts, once per process: the benchmark runs each target in a process of
    its own, so there it always takes; where TensorFlow already runs (a test session, the mtcnn
    package's detector built first) the count it started with stays, and the runtime string, which
    the benchmark's row records, says which count ran."""
    if backend != "tensorflow":
        return f"{backend}'s own thread count"
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
    except RuntimeError:
        pass  # started already with another count: reported below, not hidden
    ran = tf.config.threading.get_intra_op_parallelism_threads()
    return f"intra-op threads {ran}" if ran else "TensorFlow's own thread count"
