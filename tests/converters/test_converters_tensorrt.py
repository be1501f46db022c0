"""TensorRT: engines built, recorded and run (with the real TensorRT where installed, else through the
stand-in of fake_tensorrt.py); without TensorRT, a clear line and the equivalent trtexec command; and the
helpers that need no GPU."""

from __future__ import annotations

import importlib.util

import pytest

from facescreen.converters.targets import target
from facescreen.converters.to_tensorrt import calibration_key, profile_shapes, trtexec_command

HAVE_TRT = importlib.util.find_spec("tensorrt") is not None


def test_calibration_cache_key_depends_on_faces_and_model():
    k = calibration_key("a" * 64, "b" * 64)
    assert len(k) == 16 and k == calibration_key("a" * 64, "b" * 64)
    assert k != calibration_key("c" * 64, "b" * 64) and k != calibration_key("a" * 64, "d" * 64)


@pytest.mark.parametrize(
    "builder_has, cc, precision, fast",
    [
        (True, "5.0", "fp16", True),  # TensorRT's own answer wins where it still exists
        (False, "8.7", "int8", False),
        (None, "8.7", "int8", True),  # TensorRT >= 10.5 without the attribute: compute capability
        (None, "5.3", "fp16", True),
        (None, "5.3", "int8", False),
        (None, "5.2", "fp16", False),
    ],
)
def test_fast_precision_check(builder_has, cc, precision, fast):
    from types import SimpleNamespace

    from facescreen.converters.to_tensorrt import has_fast

    builder = SimpleNamespace(**({} if builder_has is None else {f"platform_has_fast_{precision}": builder_has}))
    assert has_fast(builder, {"compute_capability": cc}, precision) is fast


def test_profile_is_batch_1_to_n_with_static_spatial_dims():
    assert profile_shapes(112, 8) == ((1, 112, 112, 3), (4, 112, 112, 3), (8, 112, 112, 3))
    assert profile_shapes(64, 1)[1][0] == 1


@pytest.mark.skipif(HAVE_TRT, reason="tensorrt is importable: the engines are built instead")
def test_without_tensorrt_the_target_says_so_and_gives_trtexec(converted):
    bundle_dir, results, lines = converted
    for name, flag in (("tensorrt-fp16", "--fp16"), ("tensorrt-int8", "--int8 --fp16")):
        r = results[name]
        assert r.status == "unavailable"
        assert "cannot be imported" in r.message and "\n" not in r.message
        assert r.hint.startswith("equivalent command on the Jetson (TensorRT 10; not parity-checked") and flag in r.hint
        assert "trtexec --onnx=" in r.hint
        assert "--minShapes=image:1x64x64x3" in r.hint and "--maxShapes=image:8x64x64x3" in r.hint
        assert any(r.hint in line for line in lines)
        assert not (bundle_dir / f"{name}.engine").exists()


def test_trtexec_command_points_at_the_bundle_onnx(converted):
    from facescreen.converters.convert import ConvertOptions
    from facescreen.edge.bundle import load_bundle

    bundle = load_bundle(converted[0])
    cmd = trtexec_command(bundle, target("tensorrt-int8"), ConvertOptions(max_batch=4, workspace_mb=512))
    assert f"--onnx={bundle.path / 'onnx-int8.onnx'}" in cmd and "--memPoolSize=workspace:512M" in cmd
    assert cmd.endswith("--int8 --fp16")


def test_engine_usable_here_compares_version_and_device():
    from facescreen.edge.backends.tensorrt import engine_usable_here, local_device

    here = local_device()
    entry = {"tensorrt_version": "0.0.0", "device": "Orin", "compute_capability": "8.7"}
    assert engine_usable_here(entry) is False
    if here is not None:
        assert engine_usable_here(dict(here)) is True


def test_tensorrt_backend_module_imports_without_tensorrt():
    import facescreen.edge.backends.tensorrt as m

    assert m.TensorRTBackend.name == "tensorrt"


@pytest.mark.parametrize("name", ["tensorrt-fp16", "tensorrt-int8"])
def test_engine_is_built_recorded_and_keeps_parity(converted_all, split_faces, tensorrt_here, name):
    """On a GPU machine with the real TensorRT; elsewhere through the stand-in (fake_tensorrt.py), whose
    engine runs the ONNX graph it was built from, so edge/backends/tensorrt.py runs end to end."""
    from facescreen.edge.backends import open_backend
    from facescreen.edge.backends.tensorrt import engine_usable_here, local_device
    from facescreen.edge.bundle import load_bundle

    bundle_dir, results, _ = converted_all
    r = results[name]
    assert r.status == "written", r.message
    bundle = load_bundle(bundle_dir)
    entry = bundle.card.artifacts[name]
    here = local_device()
    assert entry["tensorrt_version"] == here["tensorrt_version"] and entry["device"] == here["device"]
    assert engine_usable_here(entry)
    backend = open_backend(bundle, artifact=name)
    assert backend.name == "tensorrt"
    _, held = split_faces
    probs, cam = backend.run(held.batch()[:3])
    assert probs.shape == (3, 2) and cam.shape[0] == 3
    assert r.parity.flag_agreement >= 0.99
    assert (bundle_dir / f"{name}.engine.json").is_file()
    assert entry["layer_precisions"].get(entry["precision"])
    if "calibration_cache" in entry:  # TensorRT 8.x: implicit calibration
        assert (bundle_dir / entry["calibration_cache"]).is_file()
