"""Inference backends in an explicit registry, and the choice of artifact.

``open_backend(bundle, "auto")`` picks the fastest artifact this machine can run (TensorRT on a
Jetson, int8 LiteRT or ONNX Runtime on a CPU); naming a backend or an artifact never falls back to
another one: if it cannot run, it fails and says why.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

from ..bundle import Bundle
from ..errors import BackendUnavailableError, FaceScreenError
from ..registry import Registry
from ..tflite import TFLITE_MODULES
from .base import InferenceBackend, split_outputs

# Fastest first, within each format (precision names as the converters record them).
PRECISION_ORDER = ("int8", "dynamic-int8", "fp16", "fp32")
AUTO_BACKEND_ORDER = ("tensorrt", "litert", "onnxruntime", "keras")


def _runs_anywhere(entry: dict) -> bool:
    return True


@dataclass(frozen=True)
class BackendSpec:
    name: str
    format: str
    modules: tuple[str, ...]  # the backend's library: installed when any one of them is importable
    factory: Callable[..., InferenceBackend]
    # Whether an artifact (its model-card entry) can run on this machine at all, and why not:
    # a TensorRT engine runs only on the GPU and TensorRT version it was built with.
    runs_here: Callable[[dict], bool] = _runs_anywhere
    not_here: str = ""

    @property
    def module(self) -> str:
        return " or ".join(self.modules)

    def available(self) -> bool:
        return any(importlib.util.find_spec(m) is not None for m in self.modules)


def _litert(*a, **k):
    from .litert import LiteRTBackend

    return LiteRTBackend(*a, **k)


def _onnxruntime(*a, **k):
    from .onnxruntime import OnnxRuntimeBackend

    return OnnxRuntimeBackend(*a, **k)


def _keras(*a, **k):
    from .keras import KerasBackend

    return KerasBackend(*a, **k)


def _tensorrt(*a, **k):
    from .tensorrt import TensorRTBackend

    return TensorRTBackend(*a, **k)


def _engine_usable_here(entry: dict) -> bool:
    from .tensorrt import engine_usable_here

    return engine_usable_here(entry)


BACKENDS: Registry[BackendSpec] = Registry("inference backend")
BACKENDS.register("litert", lambda: BackendSpec("litert", "tflite", TFLITE_MODULES, _litert))
BACKENDS.register("onnxruntime", lambda: BackendSpec("onnxruntime", "onnx", ("onnxruntime",), _onnxruntime))
BACKENDS.register(
    "tensorrt",
    lambda: BackendSpec(
        "tensorrt",
        "tensorrt",
        ("tensorrt",),
        _tensorrt,
        runs_here=_engine_usable_here,
        not_here="no engine built for this device and TensorRT version",
    ),
)
BACKENDS.register("keras", lambda: BackendSpec("keras", "keras", ("keras",), _keras))


def backend_spec(name: str) -> BackendSpec:
    return BACKENDS.create(name)


def _rank(bundle: Bundle, artifact: str) -> int:
    p = bundle.card.artifacts[artifact].get("precision", "fp32")
    return PRECISION_ORDER.index(p) if p in PRECISION_ORDER else len(PRECISION_ORDER)


def choose_artifact(bundle: Bundle, backend: str = "auto", artifact: str | None = None) -> tuple[str, str]:
    """Return ``(backend name, artifact name)`` to run, or raise with the reason."""
    arts = bundle.card.artifacts
    if artifact is not None:
        # a name the bundle lacks, or a backend that cannot run the artifact named with it, is what the
        # user asked for (status 2), not something this machine lacks (BackendUnavailableError, 3)
        fmt = bundle.artifact(artifact)["format"]
        names = [backend] if backend != "auto" else [n for n in AUTO_BACKEND_ORDER if backend_spec(n).format == fmt]
        spec = backend_spec(names[0])
        if spec.format != fmt:
            raise FaceScreenError(
                f"backend {spec.name!r} runs {spec.format} artifacts; {artifact!r} is {fmt}: "
                "name a backend for it, or leave --backend out"
            )
        if not spec.available():
            raise BackendUnavailableError(
                f"artifact {artifact!r} needs the {spec.name} backend, whose library ({spec.module}) is not installed"
            )
        if not spec.runs_here(arts[artifact]):  # naming an artifact skips the choice, never this check
            raise BackendUnavailableError(f"artifact {artifact!r} cannot run here: {spec.not_here}")
        return spec.name, artifact
    candidates = AUTO_BACKEND_ORDER if backend == "auto" else (backend,)
    reasons = []
    for name in candidates:
        spec = backend_spec(name)
        mine = sorted(bundle.artifacts_of(spec.format), key=lambda a: _rank(bundle, a))
        if not mine:
            reasons.append(f"{name}: no {spec.format} artifact in the bundle")
            continue
        if not spec.available():
            reasons.append(f"{name}: {spec.module} is not installed")
            continue
        usable = [a for a in mine if spec.runs_here(bundle.card.artifacts[a])]
        if not usable:
            reasons.append(f"{name}: {spec.not_here}")
            continue
        return name, usable[0]
    raise BackendUnavailableError("no runnable artifact: " + "; ".join(reasons))


def open_backend(
    bundle: Bundle, backend: str = "auto", artifact: str | None = None, threads: int | None = None
) -> InferenceBackend:
    name, art = choose_artifact(bundle, backend, artifact)
    spec = backend_spec(name)
    return spec.factory(bundle.artifact_path(art), art, bundle.card.input.size, threads=threads)


__all__ = ["BACKENDS", "BackendSpec", "InferenceBackend", "choose_artifact", "open_backend", "split_outputs"]
