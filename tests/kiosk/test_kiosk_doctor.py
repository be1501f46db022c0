"""`facescreen-kiosk doctor` on a CPU machine: every check answers, and what is absent here (TensorRT,
a CUDA device) is said plainly instead of crashing or passing silently."""

from __future__ import annotations

import json
import sys

import pytest

from facescreen.edge.bundle import InputSpec, ModelCard, artifact_entry, save_card
from facescreen.kiosk.cli import main
from facescreen.kiosk.doctor import check_cameras, check_opencv, run_checks

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
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["checks"]}
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
    (tmp_path / "video1").touch()
    row = check_cameras(tmp_path, opens=lambda i: i == 0)  # video1: a metadata node, as on many USB cameras
    assert row.status == "ok" and f"{tmp_path / 'video0'}: a frame read" in row.detail
    assert f"{tmp_path / 'video1'}: opened no stream" in row.detail
    assert check_cameras(tmp_path, opens=lambda i: False).status == "warn"


def test_jetson_release_line_is_reported(tmp_path):
    rel = tmp_path / "nv_tegra_release"
    rel.write_text("# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64\n")
    rows = run_checks(None, None, jetson_release=rel)
    assert "R36 (release), REVISION: 4.3" in rows[0].detail


# -- the first-boot report (issue 18 section 6) -------------------------------------------------------------

# What a technician's report must answer, each as a check row (name -> what it is about)
REPORT_CHECKS = {
    "platform": "L4T release",
    "python": "Python",
    "tensorrt": "TensorRT",
    "cuda": "cuda-python import plus a 16-byte device allocation",
    "opencv": "the OpenCV build and its GStreamer",
    "groups": "group membership of the user the kiosk runs as",
    "cameras": "camera open",
    "disk": "free disk",
    "clock": "clock sanity",
    "bundle": "what --backend auto runs",
}
REPORT_FIELDS = {
    "schema": str,
    "created_at": str,
    "facescreen": str,
    "host": str,
    "machine": str,
    "l4t_release": (str, type(None)),
    "python": str,
    "user": dict,
    "passed": bool,
    "checks": list,
}


def _parity_with_engine_rows(bundle):
    (bundle / "parity.json").write_text(
        json.dumps(
            {
                "artifacts": {
                    "onnx": {"status": "written", "checked_at": "2026-12-01T10:00:00+00:00", "message": ""},
                    "tensorrt-fp16": {"status": "written", "checked_at": "2026-12-01T10:05:00+00:00", "message": ""},
                    "tensorrt-int8": {
                        "status": "failed",
                        "checked_at": "2026-12-01T10:06:00+00:00",
                        "message": "TensorRT's ONNX parser rejected onnx-int8.onnx: DequantizeLinear ... INT32",
                    },
                }
            }
        )
    )


def test_first_boot_report_schema(tmp_path, capsys):
    import datetime as dt

    from facescreen.kiosk.doctor import REPORT_SCHEMA, STATUSES

    bundle = _bundle(tmp_path)
    _parity_with_engine_rows(bundle)
    out = tmp_path / "first-boot-report.json"
    code = main(["doctor", "--bundle", str(bundle), "--data-dir", str(tmp_path / "data"), "--json", str(out)])
    data = json.loads(out.read_text())
    assert data["schema"] == REPORT_SCHEMA and "report written to" in capsys.readouterr().out
    assert {k: type(data[k]).__name__ for k in REPORT_FIELDS} and set(REPORT_FIELDS) <= set(data)
    for key, kind in REPORT_FIELDS.items():
        assert isinstance(data[key], kind), (key, data[key])
    assert dt.datetime.fromisoformat(data["created_at"]).tzinfo is not None
    assert isinstance(data["user"]["uid"], int) and all(isinstance(g, str) for g in data["user"]["groups"])
    rows = {r["name"]: r for r in data["checks"]}
    for row in data["checks"]:
        assert set(row) == {"name", "status", "detail"} and row["status"] in STATUSES and row["detail"]
    assert set(REPORT_CHECKS) <= set(rows), set(REPORT_CHECKS) - set(rows)
    # engine builds come from the bundle's parity.json, with the reason a build failed
    assert rows["engine-build:tensorrt-fp16"]["status"] == "ok"
    assert (
        rows["engine-build:tensorrt-int8"]["status"] == "fail"
        and "INT32" in rows["engine-build:tensorrt-int8"]["detail"]
    )
    assert "onnx" not in {n.split(":")[1] for n in rows if n.startswith("engine-build:")}
    assert data["passed"] is (code == 0) is not any(r["status"] == "fail" for r in data["checks"])


def test_every_backend_of_the_registry_has_a_doctor_row():
    from facescreen.edge.backends import BACKENDS
    from facescreen.kiosk.doctor import check_backends

    assert [r.name for r in check_backends()] == BACKENDS.names()


def test_clock_behind_the_install_day_fails():
    import datetime as dt

    from facescreen.kiosk.doctor import check_clock

    installed = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    assert check_clock(dt.datetime(2026, 12, 3, tzinfo=dt.timezone.utc), installed).status == "ok"
    row = check_clock(dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc), installed)
    assert row.status == "fail" and "timedatectl" in row.detail


def test_jetson_user_outside_video_fails_groups_with_the_fix(tmp_path, monkeypatch):
    from facescreen.kiosk import doctor as d

    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "nvmap").touch()
    monkeypatch.setattr(d.os, "access", lambda path, mode: False)
    row = d.check_groups(on_jetson=True, dev=tmp_path)
    assert row.status == "fail" and "usermod -aG video" in row.detail and "SupplementaryGroups=video" in row.detail
    monkeypatch.setattr(d.os, "access", lambda path, mode: True)
    assert d.check_groups(on_jetson=True, dev=tmp_path).status == "ok"
    assert d.check_groups(on_jetson=True, dev=tmp_path / "nowhere").status == "warn"
