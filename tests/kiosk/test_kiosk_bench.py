"""The kiosk's section of facescreen-bench: found through its entry point (edge never imports the
kiosk), measuring before and after on the same frames, printed, tabled and drawn."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from facescreen.edge import create_screener
from facescreen.kiosk import bench as kb
from facescreen.kiosk.engine import KioskEngine
from facescreen.kiosk.scenes import FAILING_SCENES, GOOD_SCENES, compose

REPO = Path(__file__).resolve().parents[2]


def test_edge_finds_the_section_without_importing_the_kiosk():
    from facescreen.edge.bench.sections import discover_sections

    found = discover_sections()
    assert found.errors == {} and found.sections["kiosk"] is kb.SECTION
    upward = re.compile(r"^\s*(from|import)\s+(facescreen\.kiosk|\.\.+kiosk)", re.M)
    offenders = [p for p in (REPO / "edge").rglob("*.py") if upward.search(p.read_text())]
    assert offenders == []


@pytest.fixture(scope="module")
def measured(kiosk_bundle, mtcnn_detector, landmarker):
    import tf_free

    if tf_free.TF_FREE:  # the section measures the mtcnn package (TensorFlow) beside the converted cascade
        pytest.skip(tf_free.REASON)
    frames = np.stack([compose(s) for s in (FAILING_SCENES[4], GOOD_SCENES[1])])
    screener = create_screener(kiosk_bundle, detector=mtcnn_detector)
    sequence = kb.moving_sequence(frames, 16)
    data = {
        "frame": [640, 480],
        "detector": "mtcnn",
        "backend": screener.backend_label,
        "targets": kb.TARGETS,
        "model": {"backbone": screener.card.backbone, "input_size": screener.card.input.size},
        "guidance": [
            {"detector": "mtcnn", "status": "ok"},
            {"detector": "mtcnn-lite", "status": "failed", "error": "BundleError: no converted detector"},
        ],
        "capture": {},
        "server": {},
    }
    g = data["guidance"][0]
    engines = {label: KioskEngine(screener, landmarker, find=find) for label, find in kb.CONFIGS.items()}
    g.update(kb.measure_guidance(engines, sequence, warmup=1))
    data["capture"] = kb.measure_capture(engines, frames, repeat=1)
    data["server"] = kb.measure_server(
        str(kiosk_bundle),
        "mtcnn",
        kb.CONFIGS,
        [kb_jpeg(frames[1])],
        warmup=1,
        one_client=2,
        clients=2,
        per_client=2,
        rounds=2,
    )
    g["speedup_p50"] = g["before"]["p50_ms"] / g["after"]["p50_ms"]
    data["status"] = "ok"
    return data


def kb_jpeg(rgb) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def test_before_and_after_do_the_work_each_configuration_says(measured):
    g = measured["guidance"][0]
    assert g["before"]["detected_fraction"] == 1.0  # the baseline detects every frame
    assert 0 < g["after"]["detected_fraction"] < 0.5  # the fast path follows the face in between
    before, after = measured["capture"]["before"], measured["capture"]["after"]
    assert before["detect_again_p50_ms"] > 0 and after["detect_again_p50_ms"] == 0.0
    assert before["n"] == after["n"] == 2
    for label in ("before", "after"):
        s = measured["server"][label]
        assert s["status_codes"] == [200] and s["one_client"]["n"] == 2 and s["eight_clients"]["n"] == 4


def test_the_section_prints_tables_and_draws(measured, tmp_path):
    import csv

    from facescreen.edge.bench.report import write_outputs

    lines = kb.SECTION.format(measured)
    text = "\n".join(lines)
    assert "mtcnn-lite  BundleError" in text and "capture to flag" in text and "2 clients" in text
    assert lines[-2].startswith("speed targets:")
    # the tiny test screener is not the one the absolute targets were set for: the report does not
    # judge them (no "server_p50 NOT met" for another model's time), and says why
    assert "server_p50" not in lines[-2] and "server_8_clients_speedup" in lines[-2]
    assert lines[-1] == (
        "  (server_p50 not judged: its target is an absolute time set for the demo screener, "
        "resnet18 @ 112 px; this run screens with resnet18 @ 64 px)"
    )
    from facescreen.training.demo import DEMO_MODEL

    assert kb.TARGETS_MODEL == {"backbone": DEMO_MODEL.backbone, "input_size": DEMO_MODEL.input_size}
    judged = kb.SECTION.format({**measured, "model": kb.TARGETS_MODEL})[-1]
    assert judged.startswith("speed targets:") and "server_p50" in judged
    rows = kb.SECTION.rows(measured)
    assert {(r["measure"], r["config"]) for r in rows} >= {
        ("guidance", "before"),
        ("capture_to_flag", "after"),
        ("server_2_clients", "after"),
    }
    result = {
        "schema": "x",
        "models": [],
        "sections": {"kiosk": measured},
        "machine": {"cpu": "c"},
        "bundle": {"backbone": "b"},
    }
    paths = write_outputs(result, tmp_path)
    table = list(csv.DictReader(open(tmp_path / "bench.csv")))
    assert len(table) == len(rows) and {r["section"] for r in table} == {"kiosk"}
    assert (tmp_path / "bench.png") in paths and (tmp_path / "bench.png").stat().st_size > 1000
