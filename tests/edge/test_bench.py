"""The benchmark's data on a tiny run: JSON schema, parity columns, a failing row, --compare."""

from __future__ import annotations

import json
import statistics

import numpy as np
import pytest
import tf_free

from facescreen.edge.bench.cli import main as bench_main
from facescreen.edge.bench.measure import Timing, min_samples
from facescreen.edge.bench.report import compare, format_latency, format_report, format_table


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
    assert result["schema"] == "facescreen-bench/2"
    machine_keys = {"cpu", "cores", "usable_cores", "isa", "memory_gb", "kernel", "python", "libraries", "machine"}
    assert machine_keys <= set(result["machine"])
    assert result["machine"]["libraries"]["numpy"] == np.__version__
    assert {"timestamp", "commit", "load_average_at_start"} <= set(result["context"])
    assert {"threads", "artifacts", "sections", "batch", "repeat", "min_seconds"} <= set(result["settings"])
    assert result["single_stream_rule"]["mlperf"] == {"percentile": 90, "min_queries": 1024, "min_seconds": 600.0}
    assert result["single_stream_rule"]["meets_mlperf"] is False  # 3 queries
    assert result["matmul_peak_gflops"] > 0 and result["reference"] == "keras"
    assert result["parity"]["measured"] is True
    assert {"runtime", "fp32_gflops", "int8_gops"} <= set(result["runtime_gemm_peaks"])
    (row,) = result["models"]
    for key in (
        "artifact",
        "precision",
        "size_mb",
        "cold_start_ms",  # a new process to its first result
        "cold_start_n",
        "cold_start_parts_ms",
        "load_ms",
        "warmup",
        "n",  # single stream, compute only
        "seconds",
        "p50_ms",
        "p90_ms",
        "p95_ms",
        "p99_ms",
        "cov_pct",
        "variation_warning",
        "e2e_n",  # end to end from an aligned crop
        "e2e_p50_ms",
        "e2e_p99_ms",
        "batch",  # offline: the best batch and its rate, and every batch tried
        "images_per_s",
        "offline_images_per_s",
        "peak_mem_mb",
        "max_prob_diff",
        "flag_agreement",
        "gflops_per_s",
        "pct_of_matmul_peak",
        "screener_overhead_pct",
        "status",
    ):
        assert key in row, key
    assert row["status"] == "ok" and row["n"] == 3 and row["p50_ms"] > 0
    assert row["p90_ms"] is None and row["p99_ms"] is None  # 3 queries support no tail percentile
    assert set(row["offline_images_per_s"]) == {"1", "2"} and row["batch"] in (1, 2)
    assert row["images_per_s"] == max(row["offline_images_per_s"].values())
    parts = row["cold_start_parts_ms"]
    assert set(parts) == {"startup", "load", "first_result"} and min(parts.values()) > 0
    assert row["cold_start_ms"] == pytest.approx(sum(parts.values()))  # the parts make up the whole
    assert row["reference"] == "keras"  # parity columns are computed against it (see the test below)
    det = result["detectors"]["rows"][0]
    assert det["detector"] == "mtcnn" and det["n"] >= 1 and "p99_ms" in det
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


def _record(cpu: str, threads: int, models: list[dict], **extra) -> dict:
    return {
        "machine": {"cpu": cpu, "node": cpu, "cores": 2, "libraries": {"onnxruntime": "1.20.0"}},
        "context": {"timestamp": "2026-12-03T16:00:00+00:00", "load_average_at_start": [0.5, 0.5, 0.5]},
        "settings": {"threads": threads, "artifacts": [m["artifact"] for m in models]},
        "models": models,
        **extra,
    }


def test_compare_puts_two_machines_side_by_side():
    a = _record("tablet", 2, [{"artifact": "tflite-int8", "p50_ms": 20.0}])
    b = _record(
        "jetson", 2, [{"artifact": "tflite-int8", "p50_ms": 10.0}, {"artifact": "tensorrt-int8", "p50_ms": 3.0}]
    )
    text = compare(a, b)
    assert "0.50" in text and "tensorrt-int8" in text and "tablet" in text and "jetson" in text


def test_compare_lists_the_settings_that_differ_before_the_ratios():
    """Issue 25: a 1.42x difference between two runs was entirely 2 threads vs 1; the reader sees
    that first. Settings that agree are not listed."""
    a = _record("same", 2, [{"artifact": "onnx", "p50_ms": 10.0}])
    b = _record("same", 1, [{"artifact": "onnx", "p50_ms": 14.2}])
    b["machine"]["libraries"] = {"onnxruntime": "1.19.2"}
    text = compare(a, b)
    assert "settings.threads: 2 -> 1" in text and "library.onnxruntime: '1.20.0' -> '1.19.2'" in text
    assert text.index("settings.threads") < text.index("1.42")
    assert "machine.cpu" not in text and "load average" not in text
    assert "none: same settings" in compare(a, a)


def test_compare_reads_a_schema_1_record():
    old = {
        "machine": {"cpu": "old", "node": "a"},
        "settings": {"threads": 4},
        "models": [{"artifact": "onnx", "p50_ms": 5.0}],
    }
    text = compare(old, _record("new", 4, [{"artifact": "onnx", "p50_ms": 5.0}]))
    assert "time not recorded" in text and "1.00" in text


@pytest.mark.parametrize(
    ("n", "present", "absent"),
    [
        (6, ["p50"], ["p90", "p95", "p99"]),
        (10, ["p50", "p90"], ["p95", "p99"]),
        (20, ["p95"], ["p99"]),
        (100, ["p99"], []),
    ],
)
def test_a_percentile_needs_a_sample_above_it(n, present, absent):
    """No p99 from 6 frames: percentile q is reported only when at least one sample lies above it."""
    t = Timing.of([0.001 * (i + 1) for i in range(n)])
    assert t.n == n
    for q in present:
        assert getattr(t, f"{q}_ms") is not None, q
    for q in absent:
        assert getattr(t, f"{q}_ms") is None, q
    assert [min_samples(q) for q in (50, 90, 95, 99)] == [1, 10, 20, 100]


def test_variation_is_trtexecs_coefficient_and_warns_above_the_bar():
    """trtexec's coefficient of variance: population standard deviation over the mean, in percent
    (pinned to Python's statistics.pstdev)."""
    samples = [0.010, 0.011, 0.009, 0.030, 0.010]
    t = Timing.of(samples)
    assert t.cov_pct == pytest.approx(100 * statistics.pstdev(samples) / statistics.mean(samples))
    assert "coefficient of variation" in t.variation_warning(10.0)
    assert t.variation_warning(t.cov_pct + 1) is None


def test_detector_rows_print_n_and_only_supported_percentiles():
    row = {"n": 6, "p50_ms": 30.0, "p90_ms": None, "p95_ms": None, "p99_ms": None}
    text = format_latency(row)
    assert text == "n 6  p50 30.0 ms" and "p99" not in text


def _result(reference):
    from facescreen.edge.bench.runner import parity_note

    return {
        "machine": {"cpu": "cpu", "cores": 2, "machine": "x86_64", "node": "n"},
        "settings": {"threads": 2},
        "bundle": {"model_id": "m", "backbone": "vgg16", "input_size": 224, "training_data": "synthetic"},
        "matmul_peak_gflops": 100.0,
        "reference": reference,
        "parity": parity_note(reference),
        "models": [{"artifact": "tflite-int8", "status": "ok", "n": 50, "p50_ms": 3.0, "max_prob_diff": 0.01}],
    }


def test_parity_not_measured_is_said_in_words():
    """Issue 25: without a reference the report says parity was not measured (no "reference None"
    and no column of dashes); an fp32 artifact as reference is named as such."""
    text = format_report(_result(None))
    assert "parity not measured" in text and "None" not in text and "max dP" not in text
    assert "parity with the Keras model was not measured" in format_report(_result("onnx"))
    assert "max dP" in format_report(_result("keras"))
    # an int8 row's 'agree' below 1 beside "ok" reads as the bench's few faces, not the gate's verdict
    from facescreen.edge.bench.runner import parity_note

    note = parity_note("keras", 24)["note"]
    assert "on the bench's 24 aligned faces" in note and "gate decided on its own held-out faces" in note


def test_the_plot_has_a_log_axis_value_labels_and_panels(tmp_path):
    import matplotlib  # both test environments install it (it ships the grace_hopper sample photo)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from facescreen.edge.bench.report import _plot_detectors, _plot_models, _plot_pipeline

    rows = [
        {"artifact": "keras", "p50_ms": 400.0, "p90_ms": 420.0, "n": 50},
        {"artifact": "tflite-int8", "p50_ms": 2.0, "p90_ms": None, "n": 6},
    ]
    fig, (a, b, c) = plt.subplots(3, 1)
    _plot_models(a, rows)
    _plot_detectors(b, [{"detector": "mtcnn-lite", "p50_ms": 12.0, "p90_ms": 13.0, "n": 24}])
    _plot_pipeline(
        c,
        [
            {
                "artifact": "tflite-int8",
                "detector": "mtcnn-lite",
                "p50_ms": 30.0,
                "n": 24,
                "breakdown_p50_ms": {"decode": 3.0, "detect": 15.0, "align": 1.0, "infer": 10.0},
            }
        ],
    )
    assert a.get_xscale() == "log" and b.get_xscale() == "log"
    labels = [t.get_text() for t in a.texts]
    assert any("400.0 ms (n=50)" in x for x in labels) and any("2.0 ms (n=6)" in x for x in labels)
    assert any("p50 30.0 ms" in t.get_text() for t in c.texts)
    fig.canvas.draw()  # the ticks' labels are made when drawn
    ticks = [t.get_text() for ax in (a, b) for t in ax.get_xticklabels(minor=True) + ax.get_xticklabels()]
    shown = [t for t in ticks if t]
    assert shown and all(t.replace(".", "").isdigit() for t in shown), shown  # plain ms, not 10^k overlapping
    plt.close(fig)


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


def test_every_record_names_its_machine_and_its_moment():
    """The kernel's own figures (os.cpu_count, os.getloadavg) and numpy's version, as recorded."""
    import os
    import re

    from facescreen.edge.bench.machine import ISA_FLAGS, machine_info, run_context

    m = machine_info()
    assert m["cores"] == os.cpu_count() and m["memory_gb"] > 0 and set(m["isa"]) <= set(ISA_FLAGS)
    assert m["libraries"]["numpy"] == np.__version__ and m["kernel"] == os.uname().release
    ctx = run_context()
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", ctx["commit"])  # the tests run from a checkout
    assert len(ctx["load_average_at_start"]) == 3 and ctx["timestamp"].endswith("+00:00")


def test_the_int8_peak_is_a_real_integer_gemm_through_onnx_runtime():
    """MatMulInteger's product is checked against numpy's integer matmul before it is timed (on
    AVX2 a uint8 x int8 product saturates above 7-bit activations: the check would say so)."""
    from facescreen.edge.bench.measure import onnxruntime_gemm_peaks

    g = onnxruntime_gemm_peaks(n=64, repeat=2, threads=1)
    assert "error" not in g, g
    assert g["runtime"].startswith("onnxruntime ") and g["fp32_gflops"] > 0 and g["int8_gops"] > 0


def test_the_op_profile_names_where_onnx_runtimes_time_goes(tmp_path):
    """ONNX Runtime's own profiler on a two-node graph: both operator types appear, shares add to 100."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from facescreen.edge.bench.measure import onnxruntime_op_profile

    w = numpy_helper.from_array(np.ones((256, 256), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 256])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 9
    onnx.save(model, tmp_path / "m.onnx")
    p = onnxruntime_op_profile(str(tmp_path / "m.onnx"), threads=1, runs=3)
    assert set(p["by_op_type_pct"]) == {"MatMul", "Relu"}
    assert sum(p["by_op_type_pct"].values()) == pytest.approx(100, abs=0.2)
