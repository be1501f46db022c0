"""The table of conversion targets: one row per artifact the converters can write.

Each row names the module that builds it (one module per toolchain), what it needs, and where it
runs. :func:`resolve_targets` turns ``--to`` into rows; an unknown name lists the valid ones.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from facescreen.edge.registry import Table

OPTION_NAMES = ("int8_io", "max_batch", "workspace_mb")


@dataclass(frozen=True)
class Target:
    name: str  # artifact name in the model card (or detector target name)
    kind: str  # "screener": a model-card artifact; "detector": BUNDLE/detector/
    format: str  # model-card artifact format ("tflite", "onnx", "tensorrt")
    precision: str  # "fp32" | "fp16" | "dynamic-int8" | "int8"
    suffix: str  # file suffix
    device: str  # "cpu" | "gpu": where the artifact runs
    module: str  # converters.<module>: its build(ctx, target, out) writes the file
    requires: tuple[str, ...] = ()  # importable modules the BUILD needs ("a|b": either one)
    calibrated: bool = False  # needs calibration faces
    depends: tuple[str, ...] = ()  # artifacts that must exist first (built by another row)
    options: tuple[str, ...] = ()  # ConvertOptions fields it honours
    summary: str = ""
    # a function of its module, (bundle, target, options, calibration) -> str, that says what to run
    # on the device where this build cannot run here (e.g. the equivalent trtexec command)
    unavailable_hint: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("screener", "detector"):
            raise ValueError(f"target kind must be 'screener' or 'detector', got {self.kind!r}")
        if self.device not in ("cpu", "gpu"):
            raise ValueError(f"target device must be 'cpu' or 'gpu', got {self.device!r}")
        unknown = [o for o in self.options if o not in OPTION_NAMES]
        if unknown:
            raise ValueError(f"target {self.name}: unknown option(s) {unknown}; expected from {OPTION_NAMES}")

    @property
    def file(self) -> str:
        return f"{self.name}{self.suffix}"

    def missing_requirements(self) -> list[str]:
        return [REQUIREMENT_NAMES.get(r, r) for r in self.requires if not any(_importable(m) for m in r.split("|"))]

    @property
    def built_from_keras(self) -> bool:
        """Built from the bundle's Keras model (so the TensorFlow/Keras versions belong in its
        toolchain record); a target with ``depends`` is built from those artifacts instead."""
        return not self.depends

    def _module(self):
        return importlib.import_module(f"facescreen.converters.{self.module}")

    def builder(self):
        return self._module().build

    def hint_when_unavailable(self, bundle, options) -> str:
        if self.unavailable_hint is None:
            return ""
        return getattr(self._module(), self.unavailable_hint)(bundle, self, options)


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a dotted name whose parent package is absent
        return False


# How a requirement is named to a person (the distribution to install, and the modules it provides).
REQUIREMENT_NAMES = {"cuda.bindings|cuda.cudart": "cuda-python (cuda.bindings or cuda.cudart)"}
TF = ("tensorflow",)
TENSORRT = ("tensorrt", "cuda.bindings|cuda.cudart")
_ROWS = (
    Target(
        "tflite-fp32",
        "screener",
        "tflite",
        "fp32",
        ".tflite",
        "cpu",
        "to_tflite",
        TF,
        summary="LiteRT float32 (reference precision)",
    ),
    Target(
        "tflite-fp16",
        "screener",
        "tflite",
        "fp16",
        ".tflite",
        "cpu",
        "to_tflite",
        TF,
        summary="LiteRT with float16 weights (half the size; GPU delegates run it in fp16)",
    ),
    Target(
        "tflite-dynamic",
        "screener",
        "tflite",
        "dynamic-int8",
        ".tflite",
        "cpu",
        "to_tflite",
        TF,
        summary="LiteRT dynamic-range: int8 weights, float activations, no calibration",
    ),
    Target(
        "tflite-int8",
        "screener",
        "tflite",
        "int8",
        ".tflite",
        "cpu",
        "to_tflite",
        TF,
        calibrated=True,
        options=("int8_io",),
        summary="LiteRT full-integer int8 (int8 or uint8 input/output), calibrated",
    ),
    Target(
        "onnx",
        "screener",
        "onnx",
        "fp32",
        ".onnx",
        "cpu",
        "to_onnx",
        TF + ("tf2onnx", "onnx"),
        summary="ONNX opset 17, dynamic batch; also TensorRT's input",
    ),
    Target(
        "onnx-int8",
        "screener",
        "onnx",
        "int8",
        ".onnx",
        "cpu",
        "to_onnx_int8",
        TF + ("tf2onnx", "onnx", "onnxruntime", "sympy"),
        calibrated=True,
        summary="ONNX Runtime static QDQ int8 (per-channel weights), calibrated",
    ),
    Target(
        "tensorrt-fp16",
        "screener",
        "tensorrt",
        "fp16",
        ".engine",
        "gpu",
        "to_tensorrt",
        TENSORRT,
        depends=("onnx",),
        options=("max_batch", "workspace_mb"),
        unavailable_hint="trtexec_hint",
        summary="TensorRT engine, FP16; build it on the Jetson that runs it",
    ),
    # TensorRT >= 10: explicit quantisation from onnx-int8's Q/DQ scales; 8.x: entropy calibration of onnx
    Target(
        "tensorrt-int8",
        "screener",
        "tensorrt",
        "int8",
        ".engine",
        "gpu",
        "to_tensorrt",
        TENSORRT,
        calibrated=True,
        depends=("onnx", "onnx-int8"),
        options=("max_batch", "workspace_mb"),
        unavailable_hint="trtexec_hint",
        summary="TensorRT engine, INT8 (TensorRT 10+: onnx-int8's Q/DQ graph; 8.x: entropy calibration)",
    ),
    Target(
        "mtcnn-tflite",
        "detector",
        "tflite",
        "fp32",
        ".tflite",
        "cpu",
        "to_mtcnn",
        TF + ("mtcnn",),
        summary="the mtcnn package's P/R/O-Net for LiteRT -> BUNDLE/detector/",
    ),
    Target(
        "mtcnn-onnx",
        "detector",
        "onnx",
        "fp32",
        ".onnx",
        "cpu",
        "to_mtcnn",
        TF + ("mtcnn", "tf2onnx", "onnx"),
        summary="the mtcnn package's P/R/O-Net for ONNX Runtime -> BUNDLE/detector/",
    ),
)
TARGETS: Table[Target] = Table("conversion target", _ROWS)

ALIASES = {
    "cpu": [t.name for t in _ROWS if t.device == "cpu"],
    "tflite": [t.name for t in _ROWS if t.kind == "screener" and t.format == "tflite"],
    "tensorrt": ["tensorrt-fp16", "tensorrt-int8"],
    "detector": ["mtcnn-tflite", "mtcnn-onnx"],
    "all": [t.name for t in _ROWS],
}


def target(name: str) -> Target:
    return TARGETS.lookup(name)


def resolve_targets(spec: str | list[str]) -> list[Target]:
    """``"tflite-int8,onnx"`` or aliases (``cpu``, ``tflite``, ``tensorrt``, ``detector``, ``all``)
    -> rows in table order, without duplicates."""
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    wanted: list[str] = []
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        expanded = ALIASES.get(name, [name])
        for n in expanded:
            if n not in TARGETS:
                raise ValueError(
                    f"unknown conversion target {n!r}; expected one of: {', '.join(TARGETS.names())} "
                    f"or an alias: {', '.join(sorted(ALIASES))}"
                )
            if n not in wanted:
                wanted.append(n)
    if not wanted:
        raise ValueError("no conversion target named; pass --to with e.g. 'tflite-int8,onnx' or 'cpu'")
    order = [t.name for t in _ROWS]
    return [target(n) for n in sorted(wanted, key=order.index)]
