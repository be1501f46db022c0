"""Targets ``tensorrt-fp16`` and ``tensorrt-int8``: a serialized TensorRT engine built on the Jetson (or
GPU) that will run it, from artifacts the workstation already verified. One code path for TensorRT
8.6 (JetPack 5), 10.x (JetPack 6) and 11.x; what differs between them is one row of :data:`RECIPES`:

=========  ===========================================  =============================================
TensorRT   tensorrt-fp16                                tensorrt-int8
=========  ===========================================  =============================================
8.x        ``onnx``, EXPLICIT_BATCH network, FP16 flag  ``onnx``, EXPLICIT_BATCH, INT8 flag, entropy
                                                        calibrator over the calibration faces
10.x       ``onnx``, FP16 flag                          ``onnx-int8`` (explicit Q/DQ), INT8 + FP16 flags
11.x       refused: weak typing removed, needs an FP16  ``onnx-int8``, no flags (always strongly typed)
           ONNX (ModelOpt AutoCast), not produced here
=========  ===========================================  =============================================

Why: TensorRT 10 deprecates implicit (calibrator) quantisation and TensorRT 11 removes it together
with ``BuilderFlag.FP16/INT8``, ``IBuilderConfig.int8_calibrator``/``set_calibration_profile`` and
``platform_has_fast_fp16/int8`` (NVIDIA, "Removed Python APIs and Replacements", TensorRT 10.x -> 11.x
migration guide). The ``onnx-int8`` artifact is a static Q/DQ graph with symmetric (zero-point 0)
scales, which is what TensorRT's explicit quantisation accepts, and it has already passed the parity
gate on ONNX Runtime. Below TensorRT 10, ``create_network(0)`` would make an implicit-batch network,
so EXPLICIT_BATCH is set.

- optimisation profile: batch 1..``max_batch`` (opt = half of it), spatial size from the model card;
- workspace memory-pool limit ``workspace_mb``;
- FP16 / INT8 are required, never optional: if the GPU lacks fast FP16/INT8, or the built engine
  has no layer output in that precision, the build fails instead of quietly producing FP32;
- 8.x INT8: an ``IInt8EntropyCalibrator2`` fed in batches of :data:`CALIBRATION_BATCH`, with a
  calibration profile whose min = opt = max = that batch (TensorRT calibrates at the calibration
  profile's shape, not the runtime profile's), and a cache whose file name hashes the calibration
  set AND the ONNX model.

Where ``tensorrt`` or cuda-python cannot be imported, or no GPU answers, the target is reported as
"cannot be built on this machine" with :func:`trtexec_command`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ConversionError, TargetUnavailableError
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


def calibration_batch(n_faces: int) -> int:
    """The batch the 8.x calibrator feeds: the calibrator's get_batch_size() AND its profile's shape."""
    return max(1, min(CALIBRATION_BATCH, n_faces))


# ---------------------------------------------------------------------------------------------
# Which recipe for which TensorRT


@dataclass(frozen=True)
class Recipe:
    source: str  # bundle artifact the engine is parsed from
    network_flags: tuple[str, ...]  # NetworkDefinitionCreationFlag members
    builder_flags: tuple[str, ...]  # BuilderFlag members (weak typing; none on TensorRT 11)
    calibrator: bool = False  # implicit quantisation (8.x only)
    quantization: str = ""  # recorded in the model card
    strongly_typed: bool = False  # types come from the graph's Q/DQ, not builder flags (TensorRT 11)


RECIPES: dict[tuple[str, str], Recipe] = {
    ("8", "fp16"): Recipe("onnx", ("EXPLICIT_BATCH",), ("FP16",)),
    ("8", "int8"): Recipe(
        "onnx",
        ("EXPLICIT_BATCH",),
        ("INT8",),
        calibrator=True,
        quantization="implicit: IInt8EntropyCalibrator2 over the calibration faces",
    ),
    ("10", "fp16"): Recipe("onnx", (), ("FP16",)),
    ("10", "int8"): Recipe(
        "onnx-int8", (), ("INT8", "FP16"), quantization="explicit: Q/DQ scales of the parity-verified onnx-int8 graph"
    ),
    # TensorRT 11: every network is strongly typed; NetworkDefinitionCreationFlag.STRONGLY_TYPED is now 0,
    # "deprecated ... retained for API compatibility but ignored" (NvInfer.h of 11.x), so none is set.
    ("11", "int8"): Recipe(
        "onnx-int8",
        (),
        (),
        strongly_typed=True,
        quantization="explicit, strongly typed: Q/DQ scales of the parity-verified onnx-int8 graph",
    ),
}
REFUSED = {
    ("11", "fp16"): "TensorRT 11 removed weak typing (BuilderFlag.FP16): an FP16 engine needs an FP16 ONNX "
    "(ModelOpt AutoCast), which facescreen does not produce; build tensorrt-fp16 with TensorRT 10 "
    "(JetPack 6) or use tensorrt-int8",
}


def tensorrt_major(version: str) -> int:
    try:
        return int(str(version).split(".")[0])
    except ValueError:
        raise ConversionError(f"cannot read the TensorRT version {version!r}") from None


def generation(version: str) -> str:
    """The recipe column for a TensorRT version: "8" (8.x), "10" (10.x) or "11" (11 and later)."""
    major = tensorrt_major(version)
    if major < 8:
        raise ConversionError(
            f"TensorRT {version} is too old: facescreen builds engines with TensorRT 8.6, 10.x or 11.x (JetPack 5 or 6)"
        )
    return "8" if major < 10 else ("10" if major == 10 else "11")


def recipe(version: str, precision: str) -> Recipe:
    key = (generation(version), precision)
    if key in REFUSED:
        raise ConversionError(REFUSED[key])
    if key not in RECIPES:
        raise ConversionError(f"no TensorRT recipe for precision {precision!r} with TensorRT {version}")
    return RECIPES[key]


# ---------------------------------------------------------------------------------------------
# trtexec equivalent (printed where TensorRT is absent)


def trtexec_command(bundle, target: Target, options) -> str:
    """The equivalent ``trtexec`` line for JetPack 6's TensorRT 10: ``--fp16`` from the fp32 ONNX, or
    ``--int8 --fp16`` from the Q/DQ ``onnx-int8`` graph (explicit quantisation, no calibration cache)."""
    size = bundle.card.input.size
    lo, opt, hi = (("x".join(map(str, s))) for s in profile_shapes(size, options.max_batch))
    source = "onnx" if target.precision == "fp16" else "onnx-int8"
    onnx_file = bundle.path / bundle.card.artifacts.get(source, {}).get("file", f"{source}.onnx")
    flags = "--fp16" if target.precision == "fp16" else "--int8 --fp16"
    return (
        f"trtexec --onnx={onnx_file} --saveEngine={bundle.path / target.file} "
        f"--minShapes=image:{lo} --optShapes=image:{opt} --maxShapes=image:{hi} "
        f"--memPoolSize=workspace:{options.workspace_mb}M {flags}"
    )


def trtexec_hint(bundle, target: Target, options) -> str:
    return (
        f"equivalent command on the Jetson (TensorRT 10; not parity-checked and not recorded in the model card): "
        f"{trtexec_command(bundle, target, options)}"
    )


# ---------------------------------------------------------------------------------------------
# Reading the engine inspector

# Data types as the engine inspector spells them inside "Format/Datatype" (TensorRT 8.x-10.x), e.g.
# "Row major linear FP32", "Channel major FP16 format where channel % 8 == 0", "Thirty-two wide
# channel vectorized row major Int8 format", "Channel major INT8 format where channel % 16 == 0", or
# bare for Myelin layers ("Float", "Half", "Int8"); TensorRT 11 splits the field into "Format" and
# "Datatype". Strings from the engines in NVIDIA/TensorRT tools/experimental/trt-engine-explorer/
# examples (see tests/converters/inspector_strings.py); Polygraphy's dtype_from_fmt_dtype matches by
# content the same way. Word boundaries keep "BFloat16" from matching "Float" and "UInt8" from "Int8".
_DTYPE_WORDS = (
    ("bf16", r"bfloat16|bf16"),
    ("fp16", r"fp16|half"),
    ("fp8", r"fp8"),
    ("fp4", r"fp4(?:e2m1)?"),
    ("int4", r"int4"),
    ("uint8", r"uint8"),
    ("int8", r"int8"),
    ("int32", r"int32"),
    ("int64", r"int64"),
    ("bool", r"bool"),
    ("fp32", r"fp32|float"),
)
_DTYPE_RE = [(name, re.compile(rf"\b(?:{words})\b", re.IGNORECASE)) for name, words in _DTYPE_WORDS]


def tensor_precision(text: str) -> str:
    """``"fp16"``, ``"int8"``, ``"fp32"``, ... from an inspector format/data-type string; ``"unknown"``."""
    for name, rx in _DTYPE_RE:
        if rx.search(text):
            return name
    return "unknown"


def _tensor_dtype_text(tensor: dict) -> str | None:
    for key in ("Format/Datatype", "Datatype", "DataType"):
        if isinstance(tensor.get(key), str):
            return tensor[key]
    return None


def layer_precisions(info: dict | list) -> dict[str, int]:
    """How many layer OUTPUTS of the engine are in each data type, from the inspector's JSON."""
    layers = info.get("Layers", []) if isinstance(info, dict) else info
    counts: dict[str, int] = {}
    for layer in layers:
        if not isinstance(layer, dict):  # names only: the engine was not built with DETAILED verbosity
            raise ConversionError(
                "the engine inspector gave layer names only; the engine must be built with "
                "ProfilingVerbosity.DETAILED to check its precision"
            )
        for tensor in layer.get("Outputs", []):
            text = _tensor_dtype_text(tensor)
            if text is not None:
                kind = tensor_precision(text)
                counts[kind] = counts.get(kind, 0) + 1
    return counts


def _engine_information(trt, engine_bytes: bytes, logger) -> dict:
    engine = trt.Runtime(logger).deserialize_cuda_engine(engine_bytes)
    if engine is None:
        raise ConversionError("TensorRT could not deserialize the engine it has just built")
    return json.loads(engine.create_engine_inspector().get_engine_information(trt.LayerInformationFormat.JSON))


# ---------------------------------------------------------------------------------------------
# Build


def _calibrator(trt, cudart, faces: np.ndarray, cache: Path):
    """An ``IInt8EntropyCalibrator2`` (TensorRT 8.x) feeding :func:`calibration_batch` faces at a time
    from one device buffer of exactly that size."""
    from facescreen.edge.backends.tensorrt import DeviceBuffer

    class FaceCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.batch = calibration_batch(len(faces))
            self.faces = np.ascontiguousarray(faces[: len(faces) // self.batch * self.batch], dtype=np.float32)
            self.index = 0
            self.device = DeviceBuffer(cudart, self.batch * int(np.prod(faces.shape[1:])) * 4)

        def get_batch_size(self) -> int:
            return self.batch

        def get_batch(self, names):
            if self.index >= len(self.faces):
                return None
            self.device.upload(self.faces[self.index : self.index + self.batch])
            self.index += self.batch
            return [int(self.device.ptr)]

        def read_calibration_cache(self):
            return cache.read_bytes() if cache.is_file() else None

        def write_calibration_cache(self, data) -> None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_bytes(bytes(data))

        def free(self) -> None:
            self.device.free()

    return FaceCalibrator()


# Compute capability from which a GPU has fast FP16 / INT8 arithmetic (Jetson TX1 5.3, Xavier 7.2, Orin 8.7).
FAST_FROM_CC = {"fp16": (5, 3), "int8": (6, 1)}


def has_fast(builder, device: dict, precision: str) -> bool:
    """``builder.platform_has_fast_fp16/int8`` where TensorRT still has it (deprecated in 10.5, removed
    in 11), else the GPU's compute capability, as TensorRT's deprecation note says to do."""
    attr = getattr(builder, f"platform_has_fast_{precision}", None)
    if attr is not None:
        return bool(attr)
    major, minor = (int(v) for v in device["compute_capability"].split("."))
    return (major, minor) >= FAST_FROM_CC[precision]


def _network_flags(trt, plan: Recipe) -> int:
    flags = 0
    for name in plan.network_flags:
        member = getattr(trt.NetworkDefinitionCreationFlag, name, None)
        if member is None:
            raise ConversionError(f"TensorRT {trt.__version__} has no NetworkDefinitionCreationFlag.{name}")
        flags |= 1 << int(member)
    return flags


def _set_builder_flags(trt, config, plan: Recipe, target: Target) -> None:
    for name in plan.builder_flags:
        member = getattr(trt.BuilderFlag, name, None)
        if member is None:
            raise ConversionError(f"{target.name}: TensorRT {trt.__version__} has no BuilderFlag.{name}")
        config.set_flag(member)


def _check_source(ctx, target: Target, plan: Recipe) -> Path:
    entry = ctx.bundle.card.artifacts.get(plan.source)
    if entry is None:
        raise ConversionError(
            f"{target.name}: the bundle has no verified '{plan.source}' artifact to build from; "
            f"convert it on the workstation (facescreen-convert BUNDLE --to {plan.source})"
        )
    if plan.source == "onnx-int8" and not entry.get("symmetric"):
        raise ConversionError(
            f"{target.name}: the bundle's onnx-int8 does not record symmetric (zero-point 0) "
            f"quantisation, which TensorRT requires; re-convert onnx-int8 on the workstation "
            f"with this facescreen version"
        )
    return ctx.artifact_file(plan.source)


def build(ctx, target: Target, out: Path) -> dict:
    import tensorrt as trt

    from facescreen.edge.backends.tensorrt import cuda_runtime, local_device
    from facescreen.edge.errors import BackendUnavailableError

    try:
        cudart = cuda_runtime()
    except BackendUnavailableError as exc:
        raise TargetUnavailableError(str(exc)) from None
    device = local_device()
    if device is None:
        raise TargetUnavailableError("TensorRT is importable but no CUDA GPU answers")
    plan = recipe(trt.__version__, target.precision)
    source_path = _check_source(ctx, target, plan)
    size, opts = ctx.source.size, ctx.options
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(_network_flags(trt, plan))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(source_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ConversionError(f"{target.name}: TensorRT's ONNX parser rejected {source_path.name}: {errors}")
    if not has_fast(builder, device, target.precision):
        raise ConversionError(
            f"{target.name}: this GPU ({device['device']}) has no fast {target.precision.upper()}; "
            f"not building a higher-precision engine in its place"
        )
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, opts.workspace_mb << 20)
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    profile = builder.create_optimization_profile()
    input_name = network.get_input(0).name
    profile.set_shape(input_name, *profile_shapes(size, opts.max_batch))
    config.add_optimization_profile(profile)
    _set_builder_flags(trt, config, plan, target)
    extra: dict = {"quantization": plan.quantization} if plan.quantization else {}
    calibrator = None
    if plan.calibrator:
        faces = ctx.calibration_faces(target)
        cache = calibration_cache_path(ctx.bundle, faces)
        calibrator = _calibrator(trt, cudart, faces.batch(), cache)
        calib_profile = builder.create_optimization_profile()
        shape = (calibrator.batch, size, size, 3)
        calib_profile.set_shape(input_name, shape, shape, shape)
        config.int8_calibrator = calibrator
        config.set_calibration_profile(calib_profile)
        extra.update(
            {
                "calibration_cache": str(cache.relative_to(ctx.bundle.path)),
                "calibrator": "IInt8EntropyCalibrator2",
                "calibration_batch": calibrator.batch,
                "calibration_reused": cache.is_file(),
            }
        )
    try:
        serialized = builder.build_serialized_network(network, config)
    finally:
        if calibrator is not None:
            calibrator.free()
    if serialized is None:
        raise ConversionError(f"{target.name}: TensorRT failed to build the engine (see the TensorRT log above)")
    engine_bytes = bytes(serialized)
    precisions = layer_precisions(_engine_information(trt, engine_bytes, logger))
    if not precisions.get(target.precision):
        raise ConversionError(
            f"{target.name}: the built engine has no {target.precision} layer outputs "
            f"({precisions}); refusing to write it as {target.precision}"
        )
    out.write_bytes(engine_bytes)
    return {
        **device,
        **extra,
        "max_batch": opts.max_batch,
        "workspace_mb": opts.workspace_mb,
        "input_name": input_name,
        "layer_precisions": precisions,
        "built_from": plan.source,
        "builder_flags": list(plan.builder_flags),
        "network_flags": list(plan.network_flags),
        "strongly_typed": plan.strongly_typed,
        "source_sha256": ctx.bundle.card.artifacts[plan.source]["sha256"],
        "toolchain": {"tensorrt": trt.__version__},
    }
