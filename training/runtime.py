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
import re
import shutil
import subprocess
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import keras

from facescreen.edge.registry import Registry


class RuntimeUnavailableError(RuntimeError):
    """The requested runtime option does not exist with this Keras backend or machine."""


def backend() -> str:
    return keras.backend.backend()


def _require(backend_name: str, what: str) -> None:
    if backend() != backend_name:
        raise RuntimeUnavailableError(f"{what} needs KERAS_BACKEND={backend_name}; this process runs {backend()}")


@functools.cache
def _tf_strategy(kind: str):
    import tensorflow as tf

    if kind == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.MultiWorkerMirroredStrategy()


def _no_distribution() -> AbstractContextManager:
    return contextlib.nullcontext()


def _mirrored() -> AbstractContextManager:
    _require("tensorflow", "--distribute mirrored")
    return _tf_strategy("mirrored").scope()


def _multi_worker() -> AbstractContextManager:
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
    scope: Callable[[], AbstractContextManager]  # build, compile and fit inside it
    replicas: Callable[[], int]  # how many copies of the model train at once


DISTRIBUTIONS: Registry[Distribution] = Registry("distribution")
DISTRIBUTIONS.register("none", lambda: Distribution(_no_distribution, lambda: 1))
DISTRIBUTIONS.register(
    "mirrored", lambda: Distribution(_mirrored, lambda: int(_tf_strategy("mirrored").num_replicas_in_sync))
)
DISTRIBUTIONS.register(
    "multi-worker", lambda: Distribution(_multi_worker, lambda: int(_tf_strategy("multi-worker").num_replicas_in_sync))
)
DISTRIBUTIONS.register(
    "data-parallel", lambda: Distribution(_data_parallel, lambda: len(keras.distribution.list_devices()))
)


def distribution_scope(name: str) -> AbstractContextManager:
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


GPU_INSTALL_HINT = (
    "on a Linux GPU workstation install the GPU build instead of [train]: "
    "make PYEXTRAS=train-gpu,edge,convert,kiosk,dev (tensorflow[and-cuda], and jax[cuda12] for "
    "KERAS_BACKEND=jax)"
)


def system_gpus(proc: Path = Path("/proc/driver/nvidia/gpus"), dev: Path = Path("/dev")) -> list[str]:
    """NVIDIA GPUs the operating system has, whatever the framework sees: the driver's /proc entries,
    else ``nvidia-smi -L``, else /dev/nvidiaN device nodes."""
    names = []
    for info in sorted(proc.glob("*/information")):
        m = re.search(r"^Model:\s*(.+)$", info.read_text(errors="replace"), re.MULTILINE)
        names.append(m.group(1).strip() if m else info.parent.name)
    if names:
        return names
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout
            names = [
                line.split(":", 1)[1].split("(")[0].strip() for line in out.splitlines() if line.startswith("GPU ")
            ]
        except (OSError, subprocess.SubprocessError):
            names = []
        if names:
            return names
    return [p.name for p in sorted(dev.glob("nvidia[0-9]*"))]


def device_report(mixed: str, gpus_here: list[str] | None = None) -> dict:
    """Which devices this run uses, its precision policy, and a warning when the machine has an NVIDIA
    GPU the framework cannot see (a CPU-only TensorFlow build, a missing CUDA library)."""
    devices = [str(d) for d in keras.distribution.list_devices()]
    accelerators = [d for d in devices if not d.lower().startswith("cpu")]
    gpus_here = system_gpus() if gpus_here is None else gpus_here
    warning = None
    if gpus_here and not accelerators:
        warning = (
            f"this machine has {len(gpus_here)} NVIDIA GPU(s) ({', '.join(gpus_here)}) that Keras on "
            f"{backend()} cannot see: training runs on the CPU. {GPU_INSTALL_HINT}"
        )
    return {
        "keras": keras.__version__,
        "backend": backend(),
        "devices": devices,
        "uses": "gpu" if accelerators else "cpu",
        "system_gpus": gpus_here,
        "precision_policy": _POLICIES[mixed],
        "warning": warning,
    }


def device_line(report: dict) -> str:
    """One line saying where this run trains: the run log and the console say it the same way."""
    return (
        f"training on {report['uses'].upper()}: keras {report['keras']} on {report['backend']}, devices "
        f"{', '.join(report['devices'])}, precision policy {report['precision_policy']}"
    )
