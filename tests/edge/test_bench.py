"""The benchmark's data on a tiny run: JSON schema, parity columns, a failing row, --compare."""

from __future__ import annotations

import json

import pytest
import tf_free

from facescreen.edge.bench.cli import main as bench_main
from facescreen.edge.bench.report import compare, format_table


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from PIL import Image

    from facescreen.edge.synthetic import CohortConfig, make_cohort
    from facescreen.training.export import save_bundle
    from facescreen.training.model import ModelConfig, build_screener

    root = tmp_path_factory.mktemp("bench")
    cfg = ModelConfig(backbone="resnet18", input_size=64, head_filters=(16,))
    bundle = save_bundle(build_screener(cfg), cfg, root / "bundle", model_id="tiny", threshold=0.5)
    photos = root / "photos"
    make_cohort(photos, CohortConfig(n_per_class=2, image_size=320))
    (photos / "broken.jpg").write_bytes(b"not a photo")  # skipped, not fatal
    Image.new("RGB", (50, 50)).save(photos / "blank.png")
    return bundle, photos, root


@tf_free.requires_tensorflow  # the Keras reference row and the mtcnn package's detector row
def test_tiny_run_writes_the_schema(tiny, capsys):
    bundle, photos, root = tiny
    out = root / "out"
    rc = bench_main(
        [
            str(bundle),
            "--photos",
            str(photos),
            "--out",
            str(out),
            "--repeat",
            "3",
            "--warmup",
            "1",
            "--min-seconds",
            "0",
            "--batch",
            "2",
            "--faces",
            "3",
            "--no-pipeline",
            "--no-sections",
        ]
    )
    assert rc == 0
    result = json.loads((out / "bench.json").read_text())
    assert result["schema"] == "facescreen-bench/1"
    assert {"cpu", "cores", "machine", "python"} <= set(result["machine"])
    assert result["matmul_peak_gflops"] > 0 and result["reference"] == "keras"
    (row,) = result["models"]
    for key in (
        "artifact",
        "precision",
        "size_mb",
        "load_ms",
        "warmup",
        "p50_ms",
        "p90_ms",
        "p99_ms",
        "images_per_s",
        "peak_mem_mb",
        "max_prob_diff",
        "flag_agreement",
        "gflops_per_s",
        "pct_of_matmul_peak",
        "screener_overhead_pct",
        "status",
    ):
        assert key in row, key
    assert row["status"] == "ok" and row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"]
    assert row["reference"] == "keras"  # parity columns are computed against it (see the test below)
    assert result["detectors"]["rows"][0]["detector"] == "mtcnn"
    assert (out / "bench.csv").read_text().startswith("section,artifact,")
    assert (out / "bench.png").stat().st_size > 1000
    assert "keras" in capsys.readouterr().out


@tf_free.requires_tensorflow
def test_unknown_artifact_is_an_error(tiny, capsys):
    bundle, photos, root = tiny
    assert bench_main([str(bundle), "--photos", str(photos), "--artifacts", "onnx-int8", "--out", str(root / "x")]) == 2
    assert "no artifact" in capsys.readouterr().err


def test_a_failed_row_is_shown_not_fatal():
    table = format_table(
        [
            {"artifact": "onnx", "status": "ok", "p50_ms": 1.0},
            {"artifact": "tflite-int8", "status": "failed", "error": "boom"},
        ]
    )
    assert "failed" in table and "onnx" in table


def test_compare_puts_two_machines_side_by_side():
    a = {"machine": {"cpu": "tablet", "node": "a"}, "models": [{"artifact": "tflite-int8", "p50_ms": 20.0}]}
    b = {
        "machine": {"cpu": "jetson", "node": "b"},
        "models": [{"artifact": "tflite-int8", "p50_ms": 10.0}, {"artifact": "tensorrt-int8", "p50_ms": 3.0}],
    }
    text = compare(a, b)
    assert "0.50" in text and "tensorrt-int8" in text and "tablet" in text and "jetson" in text


def test_parity_columns_measure_each_row_against_the_reference():
    """A planted artifact whose second face crosses the threshold: the row says so; the reference
    row, compared with itself, agrees fully (and so does any row the reference did not run)."""
    from types import SimpleNamespace

    from facescreen.edge.bench.runner import add_parity

    bundle = SimpleNamespace(card=SimpleNamespace(positive_indices=[1], threshold=0.5))
    ref = [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.3, 0.7]]
    planted = [[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.35, 0.65]]
    rows = [
        {"artifact": "keras", "probs": ref},
        {"artifact": "tflite-int8", "probs": planted},
        {"artifact": "onnx", "status": "failed"},
    ]
    add_parity(rows, bundle, "keras")
    keras_row, int8_row, failed_row = rows
    assert int8_row["flag_agreement"] == 0.75 and int8_row["max_prob_diff"] == pytest.approx(0.2)
    assert keras_row["flag_agreement"] == 1.0 and "probs" not in int8_row
    assert "flag_agreement" not in failed_row
