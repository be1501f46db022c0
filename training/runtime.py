"""Where and how the training runs: seeds, mixed precision, XLA and multi-device distribution.

Keras finds a GPU by itself (TensorFlow or JAX); on a machine without one everything runs on the
CPU. Distribution is chosen explicitly (a registry, one entry per way):

- ``none``: one device (the GPU if present);
- ``mirrored``: ``tf.distribute.MirroredStrategy``, all local GPUs (TensorFlow backend);
- ``multi-worker``: ``tf.distribute.MultiWorkerMirroredStrategy``, several hosts described by
  the ``TF_CONFIG`` environment variable (TensorFlow backend);
- ``data-parallel``: ``keras.distribution.DataParallel`` over all devices (JAX backend; for
  several hosts call ``keras.distribution.initialize()`` first, see the Keras docs).

``fit.batch_size`` is the global batch, split across replicas.
"""
from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from typing import Callable, ContextManager

import keras

from facescreen.edge.registry import Registry


class RuntimeUnavailableError(RuntimeError):
    """The requested runtime option does not exist with this Keras backend or machine."""


def backend() -> str:
    return keras.backend.backend()


def _require(backend_name: str, what: str) -> None:
    if backend() != backend_name:
        raise RuntimeUnavailableError(f"{what} needs KERAS_BACKEND={backend_name}; this process runs {backend()}")


@functools.lru_cache(maxsize=None)
def _tf_strategy(kind: str):
    import tensorflow as tf

    if kind == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.MultiWorkerMirroredStrategy()


def _no_distribution() -> ContextManager:
    return contextlib.nullcontext()


def _mirrored() -> ContextManager:
    _require("tensorflow", "--distribute mirrored")
    return _tf_strategy("mirrored").scope()


def _multi_worker() -> ContextManager:
    _require("tensorflow", "--distribute multi-worker")
    return _tf_strategy("multi-worker").scope()


@contextlib.contextmanager
def _data_parallel():
    _require("jax", "--distribute data-parallel")
    previous = keras.distribution.distribution()
    keras.distribution.set_distribution(keras.distribution.DataParallel())
    try:
        yield
    finally:
        keras.distribution.set_distribution(previous)


@dataclass(frozen=True)
class Distribution:
    scope: Callable[[], ContextManager]   # build, compile and fit inside it
    replicas: Callable[[], int]           # how many copies of the model train at once


DISTRIBUTIONS: Registry[Distribution] = Registry("distribution")
DISTRIBUTIONS.register("none", lambda: Distribution(_no_distribution, lambda: 1))
DISTRIBUTIONS.register("mirrored", lambda: Distribution(
    _mirrored, lambda: int(_tf_strategy("mirrored").num_replicas_in_sync)))
DISTRIBUTIONS.register("multi-worker", lambda: Distribution(
    _multi_worker, lambda: int(_tf_strategy("multi-worker").num_replicas_in_sync)))
DISTRIBUTIONS.register("data-parallel", lambda: Distribution(
    _data_parallel, lambda: len(keras.distribution.list_devices())))


def distribution_scope(name: str) -> ContextManager:
    """Build, compile and fit the model inside this context."""
    return DISTRIBUTIONS.create(name).scope()


def n_replicas(name: str) -> int:
    return DISTRIBUTIONS.create(name).replicas()


_POLICIES = {"off": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}


@contextlib.contextmanager
def precision(mixed: str):
    """Mixed precision while building the model (its outputs stay float32, see training.model);
    Keras wraps the optimiser in loss scaling for float16."""
    if mixed not in _POLICIES:
        raise ValueError(f"mixed precision must be one of {', '.join(_POLICIES)}, got {mixed!r}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(_POLICIES[mixed])
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def jit_compile(xla: str) -> bool | str:
    """``compile(jit_compile=...)``: "auto" leaves it to Keras (XLA on GPUs and under JAX)."""
    return {"auto": "auto", "on": True, "off": False}[xla] if backend() != "jax" else True


def set_seeds(seed: int) -> None:
    """Python, numpy and backend seeds (``keras.utils.set_random_seed``)."""
    keras.utils.set_random_seed(int(seed) % (2**32))


def device_summary() -> str:
    devices = keras.distribution.list_devices()
    kinds = sorted({d.split(":")[0].lower() for d in map(str, devices)})
    return f"keras {keras.__version__}, backend {backend()}, devices: {len(devices)} ({', '.join(kinds)})"

