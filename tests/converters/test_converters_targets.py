"""The conversion-target table: aliases, errors for unknown names, one importable builder per row."""

from __future__ import annotations

import pytest

from facescreen.converters.targets import ALIASES, TARGETS, resolve_targets

ARTIFACT_NAMES = [
    "tflite-fp32",
    "tflite-fp16",
    "tflite-dynamic",
    "tflite-int8",
    "onnx",
    "onnx-int8",
    "tensorrt-fp16",
    "tensorrt-int8",
]


def test_the_table_names_exactly_the_artifacts_of_the_issue():
    screeners = [n for n in TARGETS.names() if TARGETS.lookup(n).kind == "screener"]
    assert sorted(screeners) == sorted(ARTIFACT_NAMES)
    assert {TARGETS.lookup(n).precision for n in screeners} == {"fp32", "fp16", "dynamic-int8", "int8"}
    assert TARGETS.lookup("tflite-dynamic").precision == "dynamic-int8"


@pytest.mark.parametrize("name", sorted(TARGETS.names()))
def test_every_target_has_a_builder_and_a_valid_format(name):
    from facescreen.edge.bundle import ARTIFACT_FORMATS

    t = TARGETS.lookup(name)
    assert callable(t.builder())
    assert t.format in ARTIFACT_FORMATS
    assert t.file.startswith(name) and t.file.endswith(t.suffix)


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("onnx", ["onnx"]),
        ("onnx-int8, tflite-int8", ["tflite-int8", "onnx-int8"]),  # table order, spaces ok
        ("tensorrt", ["tensorrt-fp16", "tensorrt-int8"]),
        ("tflite,tflite-fp16", ["tflite-fp32", "tflite-fp16", "tflite-dynamic", "tflite-int8"]),  # no duplicates
        ("detector", ["mtcnn-tflite", "mtcnn-onnx"]),
    ],
)
def test_resolve_targets(spec, expected):
    assert [t.name for t in resolve_targets(spec)] == expected


def test_cpu_alias_is_every_target_but_the_engines():
    engines = {"tensorrt-fp16", "tensorrt-int8"}
    assert ALIASES["cpu"] == [n for n in ARTIFACT_NAMES if n not in engines] + ["mtcnn-tflite", "mtcnn-onnx"]


@pytest.mark.parametrize("name", sorted(TARGETS.names()))
def test_every_target_carries_its_own_behaviour(name):
    """Metadata embedding by format, and where a build cannot run here, what to run instead: looked
    up from the row, so the dispatcher needs no branch on a target's name or format."""
    import importlib

    from facescreen.converters.metadata import carrier

    t = TARGETS.lookup(name)
    if t.kind == "screener":
        assert carrier(t.format).in_file is (t.format != "tensorrt")
    if t.unavailable_hint is not None:
        assert callable(getattr(importlib.import_module(f"facescreen.converters.{t.module}"), t.unavailable_hint))
    assert t.built_from_keras is (t.format != "tensorrt")


def test_a_sidecar_carrier_leaves_the_artifact_bytes_alone(tmp_path):
    from facescreen.converters.metadata import carrier, read_embedded

    engine = tmp_path / "tensorrt-fp16.engine"
    engine.write_bytes(b"engine bytes")
    c = carrier("tensorrt")
    c.embed(engine, {"precision": "fp16"})
    assert engine.read_bytes() == b"engine bytes" and read_embedded(engine, "tensorrt") == {"precision": "fp16"}
    assert c.files(engine) == [engine, tmp_path / "tensorrt-fp16.engine.json"]
    with pytest.raises(ValueError, match="unknown artifact format with metadata 'keras'"):
        carrier("keras")


@pytest.mark.parametrize("spec", ["tflite-int4", "", "onnx,bogus"])
def test_unknown_or_empty_target_is_refused_with_the_valid_names(spec):
    with pytest.raises(ValueError) as exc:
        resolve_targets(spec)
    assert "onnx" in str(exc.value)


def test_converters_import_edge_only_never_training():
    """The layering README.md and DEVELOPERS.md state: importing every converters module (and
    building a target row's builder) loads nothing of facescreen.training."""
    import subprocess
    import sys

    code = """
import importlib, pkgutil, sys
import facescreen.converters as c
for m in pkgutil.walk_packages(c.__path__, c.__name__ + "."):
    if not m.name.endswith("__main__"):
        importlib.import_module(m.name)
from facescreen.converters.targets import TARGETS
for n in TARGETS.names():
    TARGETS.lookup(n).builder()
bad = sorted(m for m in sys.modules if m.startswith("facescreen.training"))
print("training modules:", bad)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "training modules: []" in proc.stdout
