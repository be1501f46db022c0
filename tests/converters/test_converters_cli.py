"""facescreen-convert end to end: arguments, exit codes, the printed table."""

from __future__ import annotations

import importlib.util

import pytest

from facescreen.converters.cli import EXIT_UNAVAILABLE, EXIT_USAGE, main


def test_list_names_every_target(capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    for name in ("tflite-int8", "onnx-int8", "tensorrt-int8", "mtcnn-tflite"):
        assert name in out


def test_cli_converts_from_a_faces_npz(tmp_path, fresh_bundle, faces_npz, capsys):
    from facescreen.edge.bundle import load_bundle

    bundle = fresh_bundle
    assert main([str(bundle), "--to", "tflite-dynamic", "--calib", str(faces_npz)]) == 0
    out = capsys.readouterr().out
    assert "held-out faces" in out and "tflite-dynamic" in out and "flag agree" in out
    assert "tflite-dynamic" in load_bundle(bundle).card.artifacts
    assert (bundle / "parity.json").is_file()


def test_cli_refuses_a_small_calibration_set(tmp_path, fresh_bundle, faces_npz, capsys):
    import numpy as np

    bundle = fresh_bundle
    small = tmp_path / "small.npz"
    d = np.load(faces_npz)
    np.savez(small, faces=d["faces"][:60], labels=d["labels"][:60])
    assert main([str(bundle), "--to", "tflite-int8", "--calib", str(small)]) == EXIT_USAGE
    assert "--force-small-calib" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--to", "onnx"], "give a BUNDLE"),
        (["/nonexistent-bundle", "--to", "onnx"], "no bundle directory"),
        (["BUNDLE", "--to", "onnx-int4"], "unknown conversion target"),
    ],
)
def test_cli_usage_errors(argv, message, capsys, tiny_bundle_src):
    argv = [str(tiny_bundle_src) if a == "BUNDLE" else a for a in argv]
    assert main(argv) == EXIT_USAGE
    assert message in capsys.readouterr().err


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="tensorrt is importable here")
def test_cli_tensorrt_off_the_jetson_says_what_to_run(tmp_path, converted, faces_npz, capsys):
    import shutil

    bundle = shutil.copytree(converted[0], tmp_path / "b")
    assert main([str(bundle), "--to", "tensorrt-fp16", "--calib", str(faces_npz)]) == EXIT_UNAVAILABLE
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "tensorrt-fp16: unavailable" in x)
    assert "tensorrt, cuda-python" in line and "cannot be imported" in line
    assert f"trtexec --onnx={bundle / 'onnx.onnx'}" in out and "--fp16" in out
    assert not (bundle / "tensorrt-fp16.engine").exists()


def test_a_tensorrt_target_brings_its_onnx_graphs_along_and_says_so(fresh_bundle):
    from facescreen.converters.convert import with_dependencies
    from facescreen.converters.targets import resolve_targets
    from facescreen.edge.bundle import load_bundle

    said: list[str] = []
    rows = with_dependencies(load_bundle(fresh_bundle), resolve_targets("tensorrt"), said.append)
    assert [t.name for t in rows] == ["onnx", "tensorrt-fp16", "onnx-int8", "tensorrt-int8"]
    assert len(said) == 2 and "converting 'onnx' first" in said[0] and "converting 'onnx-int8' first" in said[1]


def test_the_converted_detector_aligns_photos_from_its_own_bundle(tmp_path, detector_dir, capsys):
    """--detector mtcnn-lite is built by the one detector factory, from the bundle converted."""
    import shutil

    from facescreen.converters.cli import _load
    from facescreen.edge.bundle import load_bundle
    from facescreen.edge.synthetic import CohortConfig, make_cohort

    bare = tmp_path / "bare"
    shutil.copytree(detector_dir.parent, bare)
    shutil.rmtree(bare / "detector")
    photos = tmp_path / "photos"
    make_cohort(photos, CohortConfig(n_per_class=2, seed=3))
    assert main([str(bare), "--to", "tflite-fp32", "--calib", str(photos), "--detector", "mtcnn-lite"]) == EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "carries no converted detector" in err[0] and "--to mtcnn-tflite" in err[0]
    faces = _load(str(photos), load_bundle(detector_dir.parent), "mtcnn-lite", {})
    assert len(faces) == 4
