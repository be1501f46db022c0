"""TensorRT backend (a Jetson or other NVIDIA GPU): the name-based tensor API of TensorRT 8.5 and later
(``get_tensor_name``, ``set_input_shape``, ``execute_async_v3``; the same calls in 8.6, 10.x and 11.x)
+ cuda-python.

Device memory goes through NVIDIA's ``cuda-python`` (``cuda.bindings.runtime``, formerly
``cuda.cudart``) rather than pycuda: it is NVIDIA's own thin binding with wheels for aarch64/JetPack
(pycuda compiles against the local CUDA toolkit on the Jetson), it is what TensorRT 10's Python
samples use, and it needs no implicit global context (``pycuda.autoinit``) that fights with other
CUDA users in the kiosk process.

An engine is only valid for the TensorRT version and GPU it was built with; the converter records
both in the model card and :func:`engine_usable_here` compares them with this machine's.
Nothing here is imported unless a TensorRT artifact is opened (edge imports nothing heavy).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BackendUnavailableError
from .base import check_batch, split_outputs


def cuda_runtime():
    """NVIDIA's CUDA runtime binding (cuda-python), or :class:`BackendUnavailableError` saying how to get it."""
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.8
    except ImportError:
        try:
            from cuda import cudart  # older cuda-python
        except ImportError:
            raise BackendUnavailableError(
                "the TensorRT backend needs NVIDIA's cuda-python (pip install cuda-python, matching the "
                "CUDA major version of JetPack)"
            ) from None
    return cudart


def _trt():
    try:
        import tensorrt as trt
    except ImportError:
        raise BackendUnavailableError(
            "TensorRT is not installed here: TensorRT engines run on a Jetson/NVIDIA GPU "
            "with JetPack's tensorrt Python package"
        ) from None
    return trt


def cuda_check(result):
    """cuda-python returns ``(error, *values)``; raise on error, return the value(s)."""
    err, *values = result if isinstance(result, tuple) else (result,)
    code = getattr(err, "value", err)
    if code != 0:
        raise RuntimeError(f"CUDA error {err}")
    return values[0] if len(values) == 1 else (tuple(values) if values else None)


def cuda_device(index: int = 0) -> dict:
    """``{"device", "compute_capability"}`` of CUDA device ``index``, or :class:`BackendUnavailableError`
    saying why there is none (no cuda-python, no driver, no device)."""
    cudart = cuda_runtime()
    try:
        props = cuda_check(cudart.cudaGetDeviceProperties(index))
    except RuntimeError as exc:
        raise BackendUnavailableError(f"cuda-python is installed but no CUDA device answers ({exc})") from None
    name = props.name.decode(errors="replace") if isinstance(props.name, bytes) else str(props.name)
    return {"device": name.strip("\x00 "), "compute_capability": f"{props.major}.{props.minor}"}


def local_device() -> dict | None:
    """``{"device", "compute_capability", "tensorrt_version"}`` of this machine's GPU 0, or None
    where TensorRT, cuda-python or a GPU is missing."""
    try:
        trt = _trt()
        return {**cuda_device(0), "tensorrt_version": trt.__version__}
    except BackendUnavailableError:
        return None


def engine_usable_here(artifact_entry: dict) -> bool:
    """True when the engine was built with this TensorRT version for this GPU model."""
    here = local_device()
    if here is None:
        return False
    return all(artifact_entry.get(k) == here[k] for k in ("tensorrt_version", "device", "compute_capability"))


class DeviceBuffer:
    """One cudaMalloc'd block; copies into it are checked against its size (never past its end)."""

    def __init__(self, cudart, nbytes: int) -> None:
        self._cudart = cudart
        self.nbytes = nbytes
        self.ptr = cuda_check(cudart.cudaMalloc(nbytes))

    def upload(self, host: np.ndarray) -> None:
        """Synchronous host -> device copy of a C-contiguous array that fits."""
        host = np.ascontiguousarray(host)
        if host.nbytes > self.nbytes:
            raise ValueError(f"{host.nbytes} bytes do not fit a {self.nbytes}-byte device buffer")
        cuda_check(
            self._cudart.cudaMemcpy(
                self.ptr, host.ctypes.data, host.nbytes, self._cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
            )
        )

    def free(self) -> None:
        if self.ptr is not None:
            self._cudart.cudaFree(self.ptr)
            self.ptr = None


class TensorRTBackend:
    name = "tensorrt"

    def __init__(self, path: Path, artifact: str, size: int, threads: int | None = None) -> None:
        trt = _trt()
        self._cudart = cudart = cuda_runtime()
        self.artifact = artifact
        self.size = size
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self._engine = self._runtime.deserialize_cuda_engine(Path(path).read_bytes())
        if self._engine is None:
            raise BackendUnavailableError(
                f"TensorRT {trt.__version__} could not load {path}: an engine only runs with the TensorRT version "
                f"and GPU it was built on; rebuild it here with facescreen-convert BUNDLE --to {artifact}"
            )
        self._context = self._engine.create_execution_context()
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        inputs = [n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        if len(inputs) != 1:
            raise BackendUnavailableError(f"{path}: expected one input tensor, the engine has {inputs}")
        self._input = inputs[0]
        self._outputs = [n for n in names if n not in inputs]
        self._dtypes = {n: np.dtype(trt.nptype(self._engine.get_tensor_dtype(n))) for n in names}
        self.max_batch = int(self._engine.get_tensor_profile_shape(self._input, 0)[2][0])
        self._stream = cuda_check(cudart.cudaStreamCreate())
        # device buffers sized for the profile's largest batch, allocated once
        if not self._context.set_input_shape(self._input, (self.max_batch, size, size, 3)):
            raise BackendUnavailableError(
                f"{path}: the engine does not take ({self.max_batch}, {size}, {size}, 3) input; "
                f"it was built for another input size than the model card's ({size})"
            )
        self._buffers = {
            n: DeviceBuffer(cudart, int(np.prod(self._context.get_tensor_shape(n))) * self._dtypes[n].itemsize)
            for n in names
        }
        for n, buf in self._buffers.items():
            self._context.set_tensor_address(n, int(buf.ptr))
        self.runtime = f"tensorrt {trt.__version__}"

    def _run_chunk(self, x: np.ndarray) -> list[np.ndarray]:
        cudart = self._cudart
        x = np.ascontiguousarray(x, dtype=self._dtypes[self._input])
        if not self._context.set_input_shape(self._input, x.shape):
            raise ValueError(f"{self.artifact}: input shape {x.shape} is outside the engine's optimisation profile")
        cuda_check(
            cudart.cudaMemcpyAsync(
                self._buffers[self._input].ptr,
                x.ctypes.data,
                x.nbytes,
                cudart.cudaMemcpyKind.cudaMemcpyHostToDevice,
                self._stream,
            )
        )
        if not self._context.execute_async_v3(self._stream):
            raise RuntimeError(f"TensorRT execution failed for {self.artifact}")
        outs = []
        for n in self._outputs:
            host = np.empty(tuple(self._context.get_tensor_shape(n)), dtype=self._dtypes[n])
            cuda_check(
                cudart.cudaMemcpyAsync(
                    host.ctypes.data,
                    self._buffers[n].ptr,
                    host.nbytes,
                    cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost,
                    self._stream,
                )
            )
            outs.append(host)
        cuda_check(cudart.cudaStreamSynchronize(self._stream))
        return outs

    def run(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = check_batch(images, self.size)
        chunks = [self._run_chunk(x[i : i + self.max_batch]) for i in range(0, len(x), self.max_batch)]
        merged = [np.concatenate([c[k] for c in chunks]) for k in range(len(self._outputs))]
        return split_outputs(merged)

    def close(self) -> None:
        for buf in getattr(self, "_buffers", {}).values():
            buf.free()
        if getattr(self, "_stream", None) is not None:
            self._cudart.cudaStreamDestroy(self._stream)
            self._stream = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
