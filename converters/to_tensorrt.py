"""Targets ``tensorrt-fp16`` and ``tensorrt-int8``: a serialized TensorRT 10 engine built from the
bundle's verified ``onnx`` artifact, on the Jetson (or GPU) that will run it.

- optimisation profile: batch 1..``max_batch`` (opt = half of it), spatial size from the model card;
- workspace memory-pool limit ``workspace_mb``;
- FP16 / INT8 are required, never optional: if the GPU lacks fast FP16/INT8, or the built engine
  contains no layer in that precision, the build fails instead of quietly producing an FP32 engine;
- INT8 uses an ``IInt8EntropyCalibrator2`` over the calibration faces, with a calibration cache
  whose file name carries a hash of the calibration set AND of the ONNX model, so a cache is never
  reused for other faces or another model.

Where ``tensorrt`` cannot be imported the dispatcher says so and prints :func:`trtexec_command`.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from .errors import ConversionError
from .targets import Target

CALIBRATION_DIR = "calibration"
CALIBRATION_BATCH = 8


def calibration_key(calibration_sha256: str, onnx_sha256: str) -> str:
    return hashlib.sha256(f"{calibration_sha256}:{onnx_sha256}".encode()).hexdigest()[:16]


def calibration_cache_path(bundle, calibration) -> Path:
    onnx_sha = bundle.card.artifacts.get("onnx", {}).get("sha256", "no-onnx-yet")
    return bundle.path / CALIBRATION_DIR / f"tensorrt-int8-{calibration_key(calibration.sha256, onnx_sha)}.cache"


def profile_shapes(size: int, max_batch: int) -> tuple[tuple, tuple, tuple]:
    return (1, size, size, 3), (max(1, max_batch // 2), size, size, 3), (max_batch, size, size, 3)


def trtexec_command(bundle, target: Target, options, calibration=None) -> str:
    """The equivalent ``trtexec`` line (TensorRT's CLI) for building this engine by hand."""
    size = bundle.card.input.size
    lo, opt, hi = (("x".join(map(str, s))) for s in profile_shapes(size, options.max_batch))
    onnx_file = bundle.path / bundle.card.artifacts.get("onnx", {}).get("file", "onnx.onnx")
    cmd = (f"trtexec --onnx={onnx_file} --saveEngine={bundle.path / target.file} "
           f"--minShapes=image:{lo} --optShapes=image:{opt} --maxShapes=image:{hi} "
           f"--memPoolSize=workspace:{options.workspace_mb}M")
    if target.precision == "fp16":
        return cmd + " --fp16"
    cache = calibration_cache_path(bundle, calibration) if calibration is not None else "CALIBRATION.cache"
    return cmd + f" --int8 --calib={cache}"


def trtexec_hint(bundle, target: Target, options, calibration=None) -> str:
    caveat = "not parity-checked and not recorded in the model card"
    if target.precision == "int8":
        caveat += "; trtexec cannot calibrate, the cache comes from an earlier facescreen-convert run on the Jetson"
    return f"equivalent command on the Jetson ({caveat}): {trtexec_command(bundle, target, options, calibration)}"


def _calibrator(trt, cudart, faces: np.ndarray, cache: Path):
    """An ``IInt8EntropyCalibrator2`` feeding the calibration faces in batches of CALIBRATION_BATCH."""
    from facescreen.edge.backends.tensorrt import _call

    class FaceCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.batch = min(CALIBRATION_BATCH, len(faces))
            self.faces = np.ascontiguousarray(faces[: len(faces) // self.batch * self.batch], dtype=np.float32)
            self.index = 0
            self.device = _call(cudart.cudaMalloc(self.batch * int(np.prod(faces.shape[1:])) * 4))

        def get_batch_size(self) -> int:
            return self.batch

        def get_batch(self, names):
            if self.index >= len(self.faces):
                return None
            chunk = np.ascontiguousarray(self.faces[self.index:self.index + self.batch])
            _call(cudart.cudaMemcpy(self.device, chunk.ctypes.data, chunk.nbytes,
                                    cudart.cudaMemcpyKind.cudaMemcpyHostToDevice))
            self.index += self.batch
            return [int(self.device)]

        def read_calibration_cache(self):
            return cache.read_bytes() if cache.is_file() else None

        def write_calibration_cache(self, data) -> None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_bytes(bytes(data))

        def free(self) -> None:
            cudart.cudaFree(self.device)

    return FaceCalibrator()


# Compute capability from which a GPU has fast FP16 / INT8 arithmetic (Jetson TX1 5.3, Xavier 7.2, Orin 8.7).
FAST_FROM_CC = {"fp16": (5, 3), "int8": (6, 1)}


def has_fast(builder, device: dict, precision: str) -> bool:
    """``builder.platform_has_fast_fp16/int8`` where TensorRT still has it (deprecated in 10.5),
    else the GPU's compute capability, as TensorRT's deprecation note says to do."""
    attr = getattr(builder, f"platform_has_fast_{precision}", None)
    if attr is not None:
        return bool(attr)
    major, minor = (int(v) for v in device["compute_capability"].split("."))
    return (major, minor) >= FAST_FROM_CC[precision]


def _layer_precisions(trt, engine_bytes: bytes, logger) -> dict[str, int]:
    """How many engine layer outputs run in each data type (from the engine inspector)."""
    runtime = trt.Runtime(logger)
    engine = runtime.deserialize_cuda_engine(engine_bytes)
    info = json.loads(engine.create_engine_inspector().get_engine_information(trt.LayerInformationFormat.JSON))
    counts: dict[str, int] = {}

    def walk(node) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "Format/Datatype" and isinstance(v, str):
                    kind = v.split()[0]
                    counts[kind] = counts.get(kind, 0) + 1
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(info.get("Layers", info))
    return counts


def build(ctx, target: Target, out: Path) -> dict:
    import tensorrt as trt

    from facescreen.edge.backends.tensorrt import _cudart, local_device

    cudart = _cudart()
    device = local_device()
    if device is None:
        raise ConversionError(f"{target.name}: TensorRT is importable but no CUDA GPU answers; build on the Jetson")
    onnx_path = ctx.artifact_file("onnx")
    size, opts = ctx.source.size, ctx.options
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)   # TensorRT 10: networks are always explicit-batch
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ConversionError(f"{target.name}: TensorRT's ONNX parser rejected {onnx_path.name}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, opts.workspace_mb << 20)
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    profile = builder.create_optimization_profile()
    input_name = network.get_input(0).name
    profile.set_shape(input_name, *profile_shapes(size, opts.max_batch))
    config.add_optimization_profile(profile)
    calibrator, cache, extra = None, None, {}
    if target.precision == "fp16":
        if not hasattr(trt.BuilderFlag, "FP16"):
            raise ConversionError(f"{target.name}: TensorRT {trt.__version__} has no FP16 builder flag (removed in "
                                  f"TensorRT 11, which wants strongly typed networks); build with TensorRT 10")
        if not has_fast(builder, device, "fp16"):
            raise ConversionError(f"{target.name}: this GPU ({device['device']}) has no fast FP16; not building an FP32 "
                                  f"engine in its place")
        config.set_flag(trt.BuilderFlag.FP16)
    elif target.precision == "int8":
        if not hasattr(trt.BuilderFlag, "INT8") or not hasattr(trt, "IInt8EntropyCalibrator2"):
            raise ConversionError(f"{target.name}: TensorRT {trt.__version__} has no implicit INT8 calibration "
                                  f"(removed in TensorRT 11); build tensorrt-int8 with TensorRT 10 (JetPack 6)")
        if not has_fast(builder, device, "int8"):
            raise ConversionError(f"{target.name}: this GPU ({device['device']}) has no fast INT8; not building a "
                                  f"higher-precision engine in its place")
        faces = ctx.calibration_faces(target)
        cache = calibration_cache_path(ctx.bundle, faces)
        config.set_flag(trt.BuilderFlag.INT8)
        calibrator = _calibrator(trt, cudart, faces.batch(), cache)
        config.int8_calibrator = calibrator
        config.set_calibration_profile(profile)
        extra = {"calibration_cache": str(cache.relative_to(ctx.bundle.path)),
                 "calibrator": "IInt8EntropyCalibrator2", "calibration_reused": cache.is_file()}
    else:
        raise ConversionError(f"{target.name}: no TensorRT recipe for precision {target.precision!r}")
    try:
        serialized = builder.build_serialized_network(network, config)
    finally:
        if calibrator is not None:
            calibrator.free()
    if serialized is None:
        raise ConversionError(f"{target.name}: TensorRT failed to build the engine (see the TensorRT log above)")
    engine_bytes = bytes(serialized)
    precisions = _layer_precisions(trt, engine_bytes, logger)
    wanted = {"fp16": "Half", "int8": "Int8"}[target.precision]
    if not precisions.get(wanted):
        raise ConversionError(f"{target.name}: the built engine has no {wanted} layers ({precisions}); refusing to "
                              f"write it as {target.precision}")
    out.write_bytes(engine_bytes)
    return {**device, **extra, "max_batch": opts.max_batch, "workspace_mb": opts.workspace_mb,
            "input_name": input_name, "layer_precisions": precisions, "built_from": "onnx",
            "onnx_sha256": ctx.bundle.card.artifacts["onnx"]["sha256"],
            "toolchain": {"tensorrt": trt.__version__}}
