"""`facescreen-kiosk doctor` on a CPU machine: every check answers, and what is absent here (TensorRT,
a CUDA device) is said plainly instead of crashing or passing silently."""

from __future__ import annotations

import json
import sys

import pytest

from facescreen.edge.bundle import InputSpec, ModelCard, artifact_entry, save_card
from facescreen.kiosk.cli import main
from facescreen.kiosk.doctor import Check, check_cameras, check_opencv, run_checks

NEEDS_NO_TRT = pytest.mark.skipif(
    "tensorrt" in sys.modules or __import__("importlib").util.find_spec("tensorrt"),
    reason="tensorrt is importable here: this test is about a machine without it",
)


def _bundle(tmp_path):
    root = tmp_path / "bundle"
    root.mkdir()
    (root / "onnx.onnx").write_bytes(b"not a real graph: the doctor does not open artifacts")
    (root / "tensorrt-fp16.engine").write_bytes(b"engine")
    arts = {
        "onnx": artifact_entry(root, "onnx.onnx", "onnx", "fp32"),
        "tensorrt-fp16": artifact_entry(
            root,
            "tensorrt-fp16.engine",
            "tensorrt",
            "fp16",
            device="Orin",
            compute_capability="8.7",
            tensorrt_version="10.3.0",
        ),
    }
    save_card(
        root,
        ModelCard(
            "probe", ("control", "syndromic"), ("syndromic",), 0.5, "resnet18", input=InputSpec(size=64), artifacts=arts
        ),
    )
    return root


@NEEDS_NO_TRT
def test_doctor_reports_absent_tensorrt_and_cuda_and_what_runs(tmp_path, capsys):
    code = main(["doctor", "--bundle", str(_bundle(tmp_path)), "--json"])
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert {
        "python",
        "numpy",
        "opencv",
        "litert",
        "onnxruntime",
        "tensorrt",
        "cuda",
        "cameras",
        "assets",
        "bundle",
    } <= set(rows)
    assert rows["tensorrt"]["status"] == "absent" and "not importable" in rows["tensorrt"]["detail"]
    assert rows["cuda"]["status"] == "absent"
    assert rows["bundle:onnx"]["status"] == "ok" and "onnxruntime" in rows["bundle:onnx"]["detail"]
    assert rows["bundle:tensorrt-fp16"]["status"] == "absent" and "tensorrt" in rows["bundle:tensorrt-fp16"]["detail"]
    assert rows["bundle"]["status"] == "ok" and "onnx" in rows["bundle"]["detail"]
    assert "GStreamer:" in rows["opencv"]["detail"] and "GUI:" in rows["opencv"]["detail"]
    assert code == (1 if any(r["status"] == "fail" for r in rows.values()) else 0)


def test_doctor_fails_on_a_missing_bundle_with_the_reason(tmp_path, capsys):
    assert main(["doctor", "--bundle", str(tmp_path / "nowhere")]) == 1
    assert "no bundle directory" in capsys.readouterr().out


def test_pip_opencv_on_a_jetson_is_a_warning(monkeypatch):
    import cv2

    import facescreen.kiosk.doctor as d

    monkeypatch.setattr(cv2, "getBuildInformation", lambda: "  GUI:  GTK3\n  GStreamer:  NO\n")
    monkeypatch.setattr(d, "_pip_opencv", lambda: ["opencv-python-headless==4.11.0.86"])
    row = check_opencv(on_jetson=True)
    assert row.status == "warn" and "shadows JetPack's OpenCV" in row.detail
    assert check_opencv(on_jetson=False).status == "ok"


@pytest.mark.parametrize("gui, status", [("NONE", "warn"), ("GTK3", "ok"), ("QT5", "ok")])
def test_a_headless_opencv_is_a_warning_since_run_opens_a_window(monkeypatch, gui, status):
    """Issue 25: doctor said "ok ... GUI: NONE" and the default windowed `run` then stopped with exit 3."""
    import cv2

    monkeypatch.setattr(cv2, "getBuildInformation", lambda: f"  GUI:  {gui}\n  GStreamer:  NO\n")
    row = check_opencv(on_jetson=False)
    assert row.status == status and f"GUI: {gui}" in row.detail
    assert ("--headless" in row.detail) == (status == "warn")


def test_cameras_listed_or_warned(tmp_path):
    assert check_cameras(tmp_path).status == "warn"
    (tmp_path / "video0").touch()
    assert check_cameras(tmp_path) == Check("cameras", "ok", str(tmp_path / "video0"))


def test_jetson_release_line_is_reported(tmp_path):
    rel = tmp_path / "nv_tegra_release"
    rel.write_text("# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64\n")
    rows = run_checks(None, None, jetson_release=rel)
    assert "R36 (release), REVISION: 4.3" in rows[0].detail
