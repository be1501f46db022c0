"""ONNX Runtime backend: CPU, plus the CUDA / TensorRT execution providers when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BackendUnavailableError
from .base import check_batch, inference_threads, split_outputs

_GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def import_onnxruntime():
    """The onnxruntime module, or a BackendUnavailableError that says what to install."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise BackendUnavailableError("onnxruntime is not installed (pip install 'facescreen[edge]')") from None
    return ort


def create_session(
    path: Path, threads: int | None = None, providers=("CPUExecutionProvider",), allow_spinning: bool = True
):
    """One ONNX Runtime session with facescreen's threading: ``threads`` intra-op threads (default:
    :func:`edge.backends.base.default_threads`, as every runtime), no inter-op parallelism (the
    graphs are chains). ``allow_spinning=False`` for many small calls,
    where busy-waiting threads starve each other on a 2-core tablet that also runs the camera."""
    ort = import_onnxruntime()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = inference_threads(threads)
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if not allow_spinning:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=opts, providers=list(providers))


class OnnxRuntimeBackend:
    name = "onnxruntime"

    def __init__(
        self, path: Path, artifact: str, size: int, threads: int | None = None, providers: list[str] | None = None
    ) -> None:
        ort = import_onnxruntime()
        available = ort.get_available_providers()
        if providers is None:
            providers = [p for p in _GPU_PROVIDERS if p in available] + ["CPUExecutionProvider"]
        missing = [p for p in providers if p not in available]
        if missing:
            raise BackendUnavailableError(
                f"ONNX Runtime providers {missing} are not available here; available: {available}"
            )
        self._session = create_session(path, threads, providers)
        self._input = self._session.get_inputs()[0].name
        self._outputs = [o.name for o in self._session.get_outputs()]
        self.artifact = artifact
        self.size = size
        self.providers = self._session.get_providers()
        self.runtime = f"onnxruntime {ort.__version__} ({self.providers[0]})"

    def run(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = check_batch(images, self.size)
        return split_outputs(self._session.run(self._outputs, {self._input: x}))
