"""A stand-in ``tensorrt`` module (and cuda-python runtime) that RECORDS what the converter asks of it.

It builds nothing and claims nothing about engines: it exposes the API surface of one TensorRT
generation (8.6, 10.x or 11.x, per NVIDIA's Python API reference and its 10.x -> 11.x "Removed Python
APIs" list), so touching a member that generation lacks raises AttributeError, and it mimics the one
behaviour the calibration contract depends on: TensorRT 8.x calibrates at the CALIBRATION profile's
opt shape (or, without one, the first profile's opt shape), reading that many bytes from the device
pointer the calibrator returns.
"""

from __future__ import annotations

import importlib.machinery
import json
import types
from enum import IntEnum

import numpy as np


class Recorder:
    def __init__(self) -> None:
        self.network_flags: list[int] = []
        self.parsed: list[bytes] = []
        self.builder_flags: list[str] = []
        self.profiles: list[Profile] = []
        self.calibration_profile: Profile | None = None
        self.calibrator = None
        self.calibration_batches: list[int] = []  # batch of each get_batch call TensorRT would read
        self.mallocs: dict[int, int] = {}
        self.copies: list[tuple[int, int]] = []  # (device pointer, bytes)
        self.freed: list[int] = []


class Profile:
    def __init__(self) -> None:
        self.shapes: dict[str, tuple] = {}

    def set_shape(self, name, lo, opt, hi) -> None:
        self.shapes[name] = (tuple(lo), tuple(opt), tuple(hi))


def make_cudart(rec: Recorder, gpu: bool = True) -> types.ModuleType:
    cudart = types.ModuleType("cuda.bindings.runtime")
    cudart.__spec__ = importlib.machinery.ModuleSpec("cuda.bindings.runtime", None)
    cudart.cudaMemcpyKind = types.SimpleNamespace(cudaMemcpyHostToDevice=1, cudaMemcpyDeviceToHost=2)
    counter = iter(range(0x1000, 1 << 40, 0x1000))

    def cudaMalloc(n):
        ptr = next(counter)
        rec.mallocs[ptr] = int(n)
        return (0, ptr)

    def cudaMemcpy(dst, src, nbytes, kind):
        if dst not in rec.mallocs or nbytes > rec.mallocs[dst]:
            raise AssertionError(f"copy of {nbytes} bytes into a {rec.mallocs.get(dst)}-byte device buffer")
        rec.copies.append((dst, int(nbytes)))
        return (0,)

    def cudaFree(ptr):
        rec.freed.append(ptr)
        return (0,)

    def cudaGetDeviceProperties(i):
        if not gpu:
            return (100, None)  # cudaErrorNoDevice
        return (0, types.SimpleNamespace(name=b"Orin (nvgpu)", major=8, minor=7))

    cudart.cudaMalloc, cudart.cudaMemcpy, cudart.cudaFree = cudaMalloc, cudaMemcpy, cudaFree
    cudart.cudaGetDeviceProperties = cudaGetDeviceProperties
    return cudart


def make_tensorrt(version: str, rec: Recorder, engine_info: dict) -> types.ModuleType:
    major = int(version.split(".")[0])
    trt = types.ModuleType("tensorrt")
    trt.__spec__ = importlib.machinery.ModuleSpec("tensorrt", None)
    trt.__version__ = version

    class Logger:
        WARNING = 2

        def __init__(self, severity=None) -> None:
            self.severity = severity

    trt.Logger = Logger
    if major < 10:
        trt.NetworkDefinitionCreationFlag = IntEnum(
            "NetworkDefinitionCreationFlag", {"EXPLICIT_BATCH": 0, "EXPLICIT_PRECISION": 1}
        )
    elif major == 10:  # EXPLICIT_BATCH deprecated and ignored; STRONGLY_TYPED added in 9/10
        trt.NetworkDefinitionCreationFlag = IntEnum(
            "NetworkDefinitionCreationFlag", {"EXPLICIT_BATCH": 0, "STRONGLY_TYPED": 1}
        )
    else:
        trt.NetworkDefinitionCreationFlag = IntEnum("NetworkDefinitionCreationFlag", {"STRONGLY_TYPED": 1})
    flags = {"GPU_FALLBACK": 2, "REFIT": 3, "TF32": 7}
    if major < 11:  # TensorRT 11 removed every precision-enabling flag
        flags.update({"FP16": 0, "INT8": 1})
    trt.BuilderFlag = IntEnum("BuilderFlag", flags)
    trt.MemoryPoolType = types.SimpleNamespace(WORKSPACE=0)
    trt.ProfilingVerbosity = types.SimpleNamespace(DETAILED=2)
    trt.LayerInformationFormat = types.SimpleNamespace(JSON=1)

    if major < 11:

        class IInt8EntropyCalibrator2:
            def __init__(self) -> None:
                pass

        trt.IInt8EntropyCalibrator2 = IInt8EntropyCalibrator2

    class Network:
        def get_input(self, i):
            return types.SimpleNamespace(name="image")

    class OnnxParser:
        num_errors = 0

        def __init__(self, network, logger) -> None:
            pass

        def parse(self, data: bytes) -> bool:
            rec.parsed.append(bytes(data))
            return True

    class Config:
        def __init__(self) -> None:
            self.profiling_verbosity = None

        def set_memory_pool_limit(self, pool, size) -> None:
            self.workspace = size

        def add_optimization_profile(self, profile) -> int:
            rec.profiles.append(profile)
            return len(rec.profiles) - 1

        def set_flag(self, flag) -> None:
            rec.builder_flags.append(trt.BuilderFlag(flag).name)

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
            return Network()

        def create_builder_config(self):
            return Config()

        def create_optimization_profile(self):
            return Profile()

        def build_serialized_network(self, network, config):
            if rec.calibrator is not None:
                _calibrate(rec)
            return b"FAKE-ENGINE"

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
        def get_engine_information(self, fmt):
            return json.dumps(engine_info)

    class Engine:
        def create_engine_inspector(self):
            return Inspector()

    class Runtime:
        def __init__(self, logger) -> None:
            pass

        def deserialize_cuda_engine(self, data):
            return Engine()

    trt.Builder, trt.OnnxParser, trt.Runtime = Builder, OnnxParser, Runtime
    return trt


def install(
    monkeypatch, version: str | None, engine_info: dict | None = None, cuda: bool = True, gpu: bool = True
) -> Recorder:
    """Put the stand-ins in sys.modules (``version=None``: no tensorrt at all; ``cuda=False``: no cuda-python)."""
    rec = Recorder()
    monkeypatch.setitem(
        __import__("sys").modules,
        "tensorrt",
        None if version is None else make_tensorrt(version, rec, engine_info or {"Layers": []}),
    )
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
        mods = {"cuda": None, "cuda.bindings": None, "cuda.bindings.runtime": None, "cuda.cudart": None}
    for name, mod in mods.items():
        monkeypatch.setitem(__import__("sys").modules, name, mod)
    return rec
