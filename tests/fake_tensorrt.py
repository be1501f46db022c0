"""A stand-in ``tensorrt`` module and cuda-python runtime (``cuda.bindings.runtime``) for machines
without an NVIDIA GPU: it enforces what NVIDIA documents and computes real numbers.

Build half (what the converter asks of TensorRT, recorded in :class:`Recorder`):
- the API surface of one TensorRT generation (8.6, 10.x or 11.x, per NVIDIA's Python API reference and
  its 10.x -> 11.x "Removed Python APIs" list): a member that generation lacks raises AttributeError;
- enum values from ``include/NvInfer.h``: ``NetworkDefinitionCreationFlag`` of 8.6 (kEXPLICIT_BATCH = 0,
  kEXPLICIT_PRECISION = 1), 10.3 (kEXPLICIT_BATCH = 0, deprecated and ignored; kSTRONGLY_TYPED = 1) and
  11.x (kSTRONGLY_TYPED = 0, "Deprecated in TensorRT 11.0. Strongly typed mode is always enabled. This
  flag is retained for API compatibility but is ignored"; kPREFER_JIT_PYTHON_PLUGINS = 1;
  kPREFER_AOT_PYTHON_PLUGINS = 2; NVIDIA/TensorRT main, NvInfer.h, enum NetworkDefinitionCreationFlag);
  ``DataType`` from ``NvInferRuntimeBase.h`` (kFLOAT = 0 ... kINT64 = 8, kINT4 = 9); ``TensorIOMode``
  from ``NvInferRuntime.h`` (kNONE = 0, kINPUT = 1, kOUTPUT = 2);
- ``OnnxParser.parse`` parses the ONNX bytes and refuses what TensorRT 10.3's parser refuses, by the
  same documented rule the converters' gate uses (``facescreen.edge.tensorrt_onnx``: onnx-tensorrt
  docs/operators.md and NvInfer.h's IQuantizeLayer/IDequantizeLayer), reporting errors through
  ``num_errors``/``get_error(i)``;
- TensorRT 8.x calibrates at the CALIBRATION profile's opt shape (or, without one, the first profile's
  opt shape), reading that many bytes from the device pointer the calibrator returns.

Runtime half, written from NVIDIA/TensorRT release/10.3 ``samples/python/common_runtime.py``
(``allocate_buffers``, ``_do_inference_base``, ``do_inference``) and the TensorRT Python API reference
(``ICudaEngine``, ``IExecutionContext``): ``Runtime.deserialize_cuda_engine`` (None for bytes that are not
an engine of this TensorRT version), ``num_io_tensors``, ``get_tensor_name/mode/dtype/shape``,
``get_tensor_profile_shape`` (min, opt, max), ``create_execution_context``, ``set_input_shape`` (False
outside the profile), ``get_tensor_shape`` (output shapes follow the input shape),
``set_tensor_address``, ``execute_async_v3(stream_handle)``. The engine computes its outputs by running
the ONNX network it was built from in ONNX Runtime, reading its input from and writing its outputs to
the stand-in device memory at the addresses it was given. Precision is that of the ONNX source: the
``tensorrt-int8`` stand-in runs the Q/DQ ``onnx-int8`` graph, the ``tensorrt-fp16`` one runs the fp32
``onnx`` (no fp16 arithmetic is simulated).

cuda-python, as ``cuda.bindings.runtime`` (cuda-python 12.x) returns it: every call returns a tuple
whose first member is a ``cudaError_t`` (``cudaSuccess`` = 0), values after it (``(err, ptr)`` from
``cudaMalloc``, ``(err, stream)`` from ``cudaStreamCreate``), as the sample's ``cuda_call`` unpacks.
Device memory is host bytes behind fake addresses; every copy is checked against its allocation.
``cudaMemcpyAsync`` host-to-device takes the host bytes when called (pageable memory is staged at
the call, CUDA Runtime API "API synchronization behavior"), and the device write, the engine's
execution and device-to-host copies run in stream order at ``cudaStreamSynchronize``, so host code
that reads outputs before synchronising reads stale memory, as it would on a GPU.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.machinery
import json
import sys
import types
from collections.abc import Iterator
from enum import IntEnum

import numpy as np
import pytest

from facescreen.edge.tensorrt_onnx import tensorrt_parse_problems

ENGINE_MAGIC = b"FACESCREEN-STAND-IN-ENGINE\n"


class Recorder:
    def __init__(self) -> None:
        self.network_flags: list[int] = []
        self.parsed: list[bytes] = []
        self.parse_errors: list[str] = []
        self.builder_flags: list[str] = []
        self.profiles: list[Profile] = []
        self.calibration_profile: Profile | None = None
        self.calibrator = None
        self.calibration_batches: list[int] = []  # batch of each get_batch call TensorRT would read
        self.mallocs: dict[int, int] = {}  # device pointer -> size, live allocations
        self.memory: dict[int, bytearray] = {}
        self.copies: list[tuple[int, int]] = []  # (device pointer, bytes) of host<->device copies
        self.freed: list[int] = []
        self.executions: list[tuple[int, ...]] = []  # input shape of each execute_async_v3


class Profile:
    def __init__(self) -> None:
        self.shapes: dict[str, tuple] = {}

    def set_shape(self, name, lo, opt, hi) -> None:
        self.shapes[name] = (tuple(lo), tuple(opt), tuple(hi))


# ---------------------------------------------------------------------------------------------
# cuda-python


class CudaStream:
    """``cudaStream_t``: a handle with ``getPtr()`` and ``int()``, as cuda-python's."""

    def __init__(self, handle: int) -> None:
        self._handle = handle

    def getPtr(self) -> int:
        return self._handle

    def __int__(self) -> int:
        return self._handle


def _host_address(x) -> int:
    return int(x.ctypes.data) if isinstance(x, np.ndarray) else int(x)


def make_cudart(rec: Recorder, gpu: bool = True) -> types.ModuleType:
    cudart = types.ModuleType("cuda.bindings.runtime")
    cudart.__spec__ = importlib.machinery.ModuleSpec("cuda.bindings.runtime", None)
    # CUDA Runtime API, driver_types.h: enum cudaError / enum cudaMemcpyKind
    err = IntEnum(
        "cudaError_t",
        {
            "cudaSuccess": 0,
            "cudaErrorInvalidValue": 1,
            "cudaErrorMemoryAllocation": 2,
            "cudaErrorNoDevice": 100,
            "cudaErrorInvalidResourceHandle": 400,
        },
    )
    kind = IntEnum(
        "cudaMemcpyKind",
        {"cudaMemcpyHostToHost": 0, "cudaMemcpyHostToDevice": 1, "cudaMemcpyDeviceToHost": 2},
    )
    cudart.cudaError_t, cudart.cudaMemcpyKind, cudart.cudaStream_t = err, kind, CudaStream
    ok = err.cudaSuccess
    addresses = iter(range(0x7F00_0000_0000, 1 << 48, 1 << 24))
    handles = iter(range(0x5000, 1 << 30, 0x10))
    streams: dict[int, list] = {}

    def device_view(ptr: int, nbytes: int) -> memoryview | None:
        """The device bytes [ptr, ptr + nbytes) inside one live allocation, or None."""
        for base, size in rec.mallocs.items():
            if base <= ptr and ptr + nbytes <= base + size:
                return memoryview(rec.memory[base])[ptr - base : ptr - base + nbytes]
        return None

    cudart._device_view = device_view

    def cudaMalloc(n):
        if not gpu:
            return (err.cudaErrorNoDevice, None)
        ptr = next(addresses)
        rec.mallocs[ptr] = int(n)
        rec.memory[ptr] = bytearray(int(n))
        return (ok, ptr)

    def cudaFree(ptr):
        if ptr not in rec.mallocs:
            return (err.cudaErrorInvalidValue,)
        del rec.mallocs[ptr], rec.memory[ptr]
        rec.freed.append(ptr)
        return (ok,)

    def _copy_op(dst, src, nbytes, k):
        """Validate a copy now; return the work that performs it."""
        nbytes = int(nbytes)
        if k == kind.cudaMemcpyHostToDevice:
            view = device_view(int(dst), nbytes)
            if view is None:
                raise AssertionError(f"copy of {nbytes} bytes to {dst:#x}, outside every device allocation")
            rec.copies.append((int(dst), nbytes))
            staged = ctypes.string_at(_host_address(src), nbytes)

            def run():
                view[:] = staged

            return run
        if k == kind.cudaMemcpyDeviceToHost:
            view = device_view(int(src), nbytes)
            if view is None:
                raise AssertionError(f"copy of {nbytes} bytes from {src:#x}, outside every device allocation")
            rec.copies.append((int(src), nbytes))
            target = _host_address(dst)

            def run():
                ctypes.memmove(target, bytes(view), nbytes)

            return run
        raise AssertionError(f"unexpected cudaMemcpyKind {k!r}")

    def cudaMemcpy(dst, src, nbytes, k):
        _copy_op(dst, src, nbytes, k)()
        return (ok,)

    def cudaStreamCreate():
        if not gpu:
            return (err.cudaErrorNoDevice, None)
        stream = CudaStream(next(handles))
        streams[int(stream)] = []
        return (ok, stream)

    def _queue(stream):
        return streams.get(int(stream)) if stream is not None else None

    def cudaMemcpyAsync(dst, src, nbytes, k, stream):
        queue = _queue(stream)
        if queue is None:
            return (err.cudaErrorInvalidResourceHandle,)
        queue.append(_copy_op(dst, src, nbytes, k))
        return (ok,)

    def cudaStreamSynchronize(stream):
        queue = _queue(stream)
        if queue is None:
            return (err.cudaErrorInvalidResourceHandle,)
        while queue:
            queue.pop(0)()
        return (ok,)

    def cudaStreamDestroy(stream):
        if _queue(stream) is None:
            return (err.cudaErrorInvalidResourceHandle,)
        del streams[int(stream)]
        return (ok,)

    def cudaGetDeviceProperties(i):
        if not gpu:
            return (err.cudaErrorNoDevice, None)
        return (ok, types.SimpleNamespace(name=b"Orin (nvgpu)", major=8, minor=7))

    cudart._enqueue = lambda stream, work: _queue(stream).append(work) if _queue(stream) is not None else None
    for f in (
        cudaMalloc,
        cudaFree,
        cudaMemcpy,
        cudaMemcpyAsync,
        cudaStreamCreate,
        cudaStreamSynchronize,
        cudaStreamDestroy,
        cudaGetDeviceProperties,
    ):
        setattr(cudart, f.__name__, f)
    cudart.streams = streams
    return cudart


# ---------------------------------------------------------------------------------------------
# tensorrt


def _network_flag_enum(major: int) -> IntEnum:
    if major < 10:
        return IntEnum("NetworkDefinitionCreationFlag", {"EXPLICIT_BATCH": 0, "EXPLICIT_PRECISION": 1})
    if major == 10:  # kEXPLICIT_BATCH deprecated and ignored (NvInfer.h release/10.3)
        return IntEnum("NetworkDefinitionCreationFlag", {"EXPLICIT_BATCH": 0, "STRONGLY_TYPED": 1})
    return IntEnum(  # NvInfer.h of TensorRT 11 (NVIDIA/TensorRT main)
        "NetworkDefinitionCreationFlag",
        {"STRONGLY_TYPED": 0, "PREFER_JIT_PYTHON_PLUGINS": 1, "PREFER_AOT_PYTHON_PLUGINS": 2},
    )


DATA_TYPES = {"FLOAT": 0, "HALF": 1, "INT8": 2, "INT32": 3, "BOOL": 4, "UINT8": 5, "FP8": 6, "BF16": 7, "INT64": 8}
NP_TYPES = {
    "FLOAT": np.float32,
    "HALF": np.float16,
    "INT8": np.int8,
    "INT32": np.int32,
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "INT64": np.int64,
}
ONNX_TO_TRT = {1: "FLOAT", 10: "HALF", 3: "INT8", 6: "INT32", 9: "BOOL", 2: "UINT8", 7: "INT64"}
# inspector strings (tests/converters/inspector_strings.py) for the layers of a derived engine report
LAYER_STRINGS = {
    "int8": "Thirty-two wide channel vectorized row major Int8 format",
    "fp16": "Channel major FP16 format where channel % 8 == 0",
    "fp32": "Row major linear FP32",
}


def _derived_engine_info(model, builder_flags: list[str], strongly_typed: bool) -> dict:
    """An inspector report of the engine built from ``model``: a Conv fed by a DequantizeLinear runs in
    int8 (explicit quantisation, TensorRT 10/11, or any Conv with INT8 calibration on 8.x), other
    layers in fp16 where FP16 is enabled, else fp32."""
    dq_out = {o for n in model.graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    layers = []
    for n in model.graph.node:
        if n.op_type in ("QuantizeLinear", "DequantizeLinear", "Constant"):
            continue
        explicit = bool(dq_out.intersection(n.input)) and ("INT8" in builder_flags or strongly_typed)
        implicit = n.op_type == "Conv" and "INT8" in builder_flags and not dq_out
        kind = "int8" if explicit or implicit else ("fp16" if "FP16" in builder_flags else "fp32")
        layers.append({"Name": n.name, "Outputs": [{"Name": n.output[0], "Format/Datatype": LAYER_STRINGS[kind]}]})
    return {"Layers": layers}


def make_tensorrt(version: str, rec: Recorder, engine_info: dict | None, cudart=None) -> types.ModuleType:
    import onnx
    from google.protobuf.message import DecodeError

    major = int(version.split(".")[0])
    trt = types.ModuleType("tensorrt")
    trt.__spec__ = importlib.machinery.ModuleSpec("tensorrt", None)
    trt.__version__ = version

    class Logger:
        WARNING = 2

        def __init__(self, severity=None) -> None:
            self.severity = severity

    trt.Logger = Logger
    trt.NetworkDefinitionCreationFlag = _network_flag_enum(major)
    flags = {"GPU_FALLBACK": 2, "REFIT": 3, "TF32": 7}
    if major < 11:  # TensorRT 11 removed every precision-enabling flag
        flags.update({"FP16": 0, "INT8": 1})
    trt.BuilderFlag = IntEnum("BuilderFlag", flags)
    trt.MemoryPoolType = types.SimpleNamespace(WORKSPACE=0)
    trt.ProfilingVerbosity = types.SimpleNamespace(DETAILED=2)
    trt.LayerInformationFormat = types.SimpleNamespace(JSON=1)
    trt.DataType = IntEnum("DataType", DATA_TYPES)
    trt.TensorIOMode = IntEnum("TensorIOMode", {"NONE": 0, "INPUT": 1, "OUTPUT": 2})
    trt.nptype = lambda dt: NP_TYPES[trt.DataType(dt).name]

    if major < 11:

        class IInt8EntropyCalibrator2:
            def __init__(self) -> None:
                pass

        trt.IInt8EntropyCalibrator2 = IInt8EntropyCalibrator2

    class Network:
        def __init__(self, flags: int) -> None:
            self.flags = flags
            self.model = None

        @property
        def num_inputs(self) -> int:
            return len(self.model.graph.input) if self.model is not None else 0

        def get_input(self, i):
            if self.model is None:
                return None
            return types.SimpleNamespace(name=self.model.graph.input[i].name)

    class ParserError:
        def __init__(self, text: str) -> None:
            self._text = text

        def desc(self) -> str:
            return self._text

        def __str__(self) -> str:
            return self._text

    class OnnxParser:
        def __init__(self, network, logger) -> None:
            self.network = network
            self._errors: list[str] = []

        @property
        def num_errors(self) -> int:
            return len(self._errors)

        def get_error(self, i):
            return ParserError(self._errors[i])

        def parse(self, data: bytes) -> bool:
            rec.parsed.append(bytes(data))
            try:
                model = onnx.load_from_string(bytes(data))
            except DecodeError as exc:  # not an ONNX model at all
                self._errors = [f"ModelImporter: failed to parse the ONNX model: {exc}"]
            else:
                self._errors = tensorrt_parse_problems(model)
                if not self._errors:
                    self.network.model = model
            rec.parse_errors += self._errors
            return not self._errors

    class Config:
        def __init__(self) -> None:
            self.profiling_verbosity = None
            self.profiles: list[Profile] = []
            self.flags: list[str] = []

        def set_memory_pool_limit(self, pool, size) -> None:
            self.workspace = size

        def add_optimization_profile(self, profile) -> int:
            rec.profiles.append(profile)
            self.profiles.append(profile)
            return len(self.profiles) - 1

        def set_flag(self, flag) -> None:
            rec.builder_flags.append(trt.BuilderFlag(flag).name)
            self.flags.append(trt.BuilderFlag(flag).name)

    if major < 11:

        def _set_calibrator(self, c):
            rec.calibrator = c

        def set_calibration_profile(self, profile) -> bool:
            rec.calibration_profile = profile
            return True

        Config.int8_calibrator = property(lambda self: rec.calibrator, _set_calibrator)
        Config.set_calibration_profile = set_calibration_profile

    class Builder:
        def __init__(self, logger) -> None:
            if major < 11:
                self.platform_has_fast_fp16 = True
                self.platform_has_fast_int8 = True

        def create_network(self, flags=0):
            rec.network_flags.append(int(flags))
            return Network(int(flags))

        def create_builder_config(self):
            return Config()

        def create_optimization_profile(self):
            return Profile()

        def build_serialized_network(self, network, config):
            if network.model is None or not config.profiles:
                return None  # TensorRT logs an error and returns None: nothing parsed, or no profile
            if rec.calibrator is not None:
                _calibrate(rec)
            return _serialize(network, config)

    def _serialize(network, config) -> bytes:
        import onnxruntime as ort

        model = network.model
        name = model.graph.input[0].name
        lo, opt, hi = config.profiles[0].shapes[name]
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        outs = session.run(None, {name: np.zeros(lo, np.float32)})  # per-sample output shapes, as TensorRT knows them
        strongly = major >= 11 or (major == 10 and bool(network.flags & (1 << 1)))  # 10.3: kSTRONGLY_TYPED = 1
        header = {
            "tensorrt_version": version,
            "inputs": [[name, ONNX_TO_TRT[model.graph.input[0].type.tensor_type.elem_type], [-1, *lo[1:]]]],
            "outputs": [
                [o.name, ONNX_TO_TRT[o.type.tensor_type.elem_type], [-1, *v.shape[1:]]]
                for o, v in zip(model.graph.output, outs)
            ],
            "profile": [list(lo), list(opt), list(hi)],
            "info": engine_info if engine_info is not None else _derived_engine_info(model, config.flags, strongly),
        }
        return ENGINE_MAGIC + json.dumps(header).encode() + b"\n" + model.SerializeToString()

    def _calibrate(rec: Recorder) -> None:
        profile = rec.calibration_profile or rec.profiles[0]
        shape = profile.shapes["image"][1]  # TensorRT calibrates at the profile's opt shape
        nbytes = int(np.prod(shape)) * 4
        while True:
            ptrs = rec.calibrator.get_batch(["image"])
            if ptrs is None:
                break
            ptr = ptrs[0]
            if nbytes > rec.mallocs.get(ptr, 0):
                raise AssertionError(
                    f"TensorRT would read {nbytes} bytes (batch {shape[0]}) from a "
                    f"{rec.mallocs.get(ptr, 0)}-byte calibration buffer"
                )
            rec.calibration_batches.append(shape[0])
        rec.calibrator.write_calibration_cache(b"CACHE")

    class Inspector:
        def __init__(self, info: dict) -> None:
            self._info = info

        def get_engine_information(self, fmt):
            return json.dumps(self._info)

    class Engine:
        def __init__(self, header: dict, onnx_bytes: bytes) -> None:
            self._header = header
            self._onnx = onnx_bytes
            self._io = {n: ("INPUT", t, s) for n, t, s in header["inputs"]}
            self._io.update({n: ("OUTPUT", t, s) for n, t, s in header["outputs"]})
            self._names = list(self._io)
            self._session = None

        @property
        def num_io_tensors(self) -> int:
            return len(self._names)

        def get_tensor_name(self, i: int) -> str:
            return self._names[i]

        def get_tensor_mode(self, name: str):
            return trt.TensorIOMode[self._io[name][0]] if name in self._io else trt.TensorIOMode.NONE

        def get_tensor_dtype(self, name: str):
            return trt.DataType[self._io[name][1]]

        def get_tensor_shape(self, name: str) -> tuple:
            return tuple(self._io[name][2])

        def get_tensor_profile_shape(self, name: str, profile_index: int):
            if profile_index != 0 or self._io[name][0] != "INPUT":
                raise ValueError(f"no profile {profile_index} shape for {name!r}")
            return [tuple(s) for s in self._header["profile"]]

        def create_execution_context(self):
            return Context(self)

        def create_engine_inspector(self):
            return Inspector(self._header["info"])

        def session(self):
            if self._session is None:
                import onnxruntime as ort

                self._session = ort.InferenceSession(self._onnx, providers=["CPUExecutionProvider"])
            return self._session

    class Context:
        def __init__(self, engine: Engine) -> None:
            self.engine = engine
            self._shapes: dict[str, tuple] = {}
            self._addresses: dict[str, int] = {}

        def set_input_shape(self, name: str, shape) -> bool:
            shape = tuple(int(d) for d in shape)
            lo, _, hi = self.engine.get_tensor_profile_shape(name, 0)
            if len(shape) != len(lo) or any(not (a <= d <= b) for a, d, b in zip(lo, shape, hi)):
                return False  # TensorRT logs "outside the optimization profile" and returns False
            self._shapes[name] = shape
            return True

        def get_tensor_shape(self, name: str) -> tuple:
            mode, _, declared = self.engine._io[name]
            inputs = [n for n, (m, _, _) in self.engine._io.items() if m == "INPUT"]
            if mode == "INPUT":
                return self._shapes.get(name, tuple(declared))
            batch = self._shapes.get(inputs[0], (-1,))[0]
            return (batch, *declared[1:])

        def set_tensor_address(self, name: str, ptr: int) -> bool:
            if name not in self.engine._io:
                return False
            self._addresses[name] = int(ptr)
            return True

        def execute_async_v3(self, stream_handle) -> bool:
            names = self.engine._names
            if any(n not in self._addresses for n in names):
                return False  # TensorRT: "address is not set" and False
            inputs = [n for n in names if self.engine._io[n][0] == "INPUT"]
            if any(n not in self._shapes for n in inputs):
                return False
            if cudart is None or cudart.streams.get(int(stream_handle)) is None:
                return False
            shapes = {n: self.get_tensor_shape(n) for n in names}
            rec.executions.append(shapes[inputs[0]])

            def run() -> None:
                feeds = {}
                for n in inputs:
                    dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(n)))
                    nbytes = int(np.prod(shapes[n])) * dtype.itemsize
                    view = cudart._device_view(self._addresses[n], nbytes)
                    if view is None:
                        raise AssertionError(f"TensorRT would read {nbytes} bytes of {n!r} past its device buffer")
                    feeds[n] = np.frombuffer(bytes(view), dtype).reshape(shapes[n])
                outs = self.engine.session().run(None, feeds)
                for n, value in zip([n for n in names if n not in inputs], outs):
                    dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(n)))
                    value = np.ascontiguousarray(value, dtype)
                    assert value.shape == shapes[n], f"{n}: computed {value.shape}, context said {shapes[n]}"
                    view = cudart._device_view(self._addresses[n], value.nbytes)
                    if view is None:
                        raise AssertionError(f"TensorRT would write {value.nbytes} bytes of {n!r} past its buffer")
                    view[:] = value.tobytes()

            cudart._enqueue(stream_handle, run)
            return True

    class Runtime:
        def __init__(self, logger) -> None:
            pass

        def deserialize_cuda_engine(self, data):
            data = bytes(data)
            if not data.startswith(ENGINE_MAGIC):
                return None  # TensorRT logs "Serialization assertion ... failed" and returns None
            header_line, onnx_bytes = data[len(ENGINE_MAGIC) :].split(b"\n", 1)
            header = json.loads(header_line)
            if header["tensorrt_version"] != version:
                return None  # an engine runs only with the TensorRT version that built it
            return Engine(header, onnx_bytes)

    trt.Builder, trt.OnnxParser, trt.Runtime = Builder, OnnxParser, Runtime
    trt.ICudaEngine, trt.IExecutionContext = Engine, Context
    return trt


MODULE_NAMES = ("tensorrt", "cuda", "cuda.bindings", "cuda.bindings.runtime", "cuda.cudart")


def stand_in_modules(
    version: str | None, rec: Recorder, engine_info: dict | None = None, cuda: bool = True, gpu: bool = True
) -> dict:
    """The sys.modules entries of the stand-ins (``version=None``: no tensorrt; ``cuda=False``: no cuda-python)."""
    if cuda:
        cudart = make_cudart(rec, gpu)
        bindings = types.ModuleType("cuda.bindings")
        bindings.__spec__ = importlib.machinery.ModuleSpec("cuda.bindings", None, is_package=True)
        bindings.runtime = cudart
        pkg = types.ModuleType("cuda")
        pkg.__spec__ = importlib.machinery.ModuleSpec("cuda", None, is_package=True)
        pkg.bindings = bindings
        mods = {"cuda": pkg, "cuda.bindings": bindings, "cuda.bindings.runtime": cudart, "cuda.cudart": None}
    else:
        cudart = None
        mods = {"cuda": None, "cuda.bindings": None, "cuda.bindings.runtime": None, "cuda.cudart": None}
    mods["tensorrt"] = None if version is None else make_tensorrt(version, rec, engine_info, cudart)
    return mods


def install(
    monkeypatch, version: str | None, engine_info: dict | None = None, cuda: bool = True, gpu: bool = True
) -> Recorder:
    """Put the stand-ins in sys.modules for one test. ``engine_info``: the inspector report the built
    engine gives (default: derived from the network and flags it was built with)."""
    rec = Recorder()
    for name, mod in stand_in_modules(version, rec, engine_info, cuda, gpu).items():
        monkeypatch.setitem(sys.modules, name, mod)
    return rec


STAND_IN_TENSORRT = "10.3.0"  # the stand-in the suite runs TensorRT through: JetPack 6.1/6.2's


def real_tensorrt_here() -> bool:
    """A real TensorRT, cuda-python and a CUDA GPU answer here (the edge backend's own check): a
    tensorrt wheel on a machine without a GPU builds nothing, so the stand-in runs there too. Looked
    up on the import path, not in sys.modules, where a test may have put a stand-in."""
    from facescreen.edge.backends.tensorrt import local_device

    return importlib.machinery.PathFinder.find_spec("tensorrt") is not None and local_device() is not None


@contextlib.contextmanager
def importable(mods: dict | None) -> Iterator[None]:
    """``tensorrt`` and cuda-python are these stand-ins inside the block, and what they were after it
    (``None``: a real TensorRT is installed and runs as it is)."""
    with pytest.MonkeyPatch.context() as mp:
        for name, mod in (mods or {}).items():
            mp.setitem(sys.modules, name, mod)
        yield
