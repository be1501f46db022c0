"""Artifact choice: auto picks the fastest runnable artifact; a named one never falls back."""

from __future__ import annotations

from dataclasses import replace

import pytest
import tf_free
from spies import ThreadsAsked

from facescreen.edge import BackendUnavailableError, FaceScreenError, ModelCard, artifact_entry, load_bundle, save_card
from facescreen.edge.backends import BACKENDS, choose_artifact

ARTIFACTS = {  # name: (format, precision)
    "keras": ("keras", "fp32"),
    "tflite-fp32": ("tflite", "fp32"),
    "tflite-fp16": ("tflite", "fp16"),
    "tflite-dynamic": ("tflite", "dynamic-int8"),
    "tflite-int8": ("tflite", "int8"),
    "onnx": ("onnx", "fp32"),
    "onnx-int8": ("onnx", "int8"),
    "tensorrt-fp16": ("tensorrt", "fp16"),
}


def bundle_with(tmp_path, names):
    arts = {}
    for n in names:
        fmt, prec = ARTIFACTS[n]
        (tmp_path / f"{n}.bin").write_bytes(n.encode())
        arts[n] = artifact_entry(tmp_path, f"{n}.bin", fmt, prec)
    card = ModelCard(model_id="m", classes=("c", "s"), positive_classes=("s",), threshold=0.5, backbone="vgg16")
    save_card(tmp_path, replace(card, artifacts=arts))
    return load_bundle(tmp_path)


def test_registry_lists_the_backends():
    assert BACKENDS.names() == ["keras", "litert", "onnxruntime", "tensorrt"]


@pytest.mark.parametrize(
    "names, expected",
    [
        (list(ARTIFACTS), ("litert", "tflite-int8")),  # no TensorRT here: int8 LiteRT first
        (["keras", "onnx", "onnx-int8"], ("onnxruntime", "onnx-int8")),
        (["keras", "tflite-fp32", "tflite-dynamic"], ("litert", "tflite-dynamic")),
        pytest.param(["keras"], ("keras", "keras"), marks=tf_free.requires_tensorflow),
    ],
)
def test_auto_choice(tmp_path, names, expected):
    assert choose_artifact(bundle_with(tmp_path, names)) == expected


@pytest.mark.skipif(not tf_free.TF_FREE, reason="about a machine without Keras (the TensorFlow-free run)")
def test_keras_only_bundle_without_keras_says_so(tmp_path):
    with pytest.raises(BackendUnavailableError, match="keras: keras is not installed"):
        choose_artifact(bundle_with(tmp_path, ["keras"]))


def test_backend_choice_picks_its_fastest_artifact(tmp_path):
    b = bundle_with(tmp_path, list(ARTIFACTS))
    assert choose_artifact(b, backend="onnxruntime") == ("onnxruntime", "onnx-int8")
    assert choose_artifact(b, artifact="onnx") == ("onnxruntime", "onnx")


def test_tensorrt_engine_is_not_run_on_a_machine_without_tensorrt(tmp_path):
    b = bundle_with(tmp_path, ["tensorrt-fp16"])
    with pytest.raises(BackendUnavailableError, match="tensorrt"):
        choose_artifact(b)
    with pytest.raises(BackendUnavailableError, match="tensorrt"):
        choose_artifact(b, artifact="tensorrt-fp16")


def test_mismatched_backend_and_artifact(tmp_path):
    b = bundle_with(tmp_path, ["onnx", "tflite-int8"])
    with pytest.raises(FaceScreenError, match="runs tflite artifacts") as err:
        choose_artifact(b, backend="litert", artifact="onnx")
    assert not isinstance(err.value, BackendUnavailableError)  # the user's contradiction, not this machine's lack


def test_a_named_engine_is_checked_against_this_machine_too(tmp_path, monkeypatch):
    """TensorRT importable, but the engine was built elsewhere: naming it must not skip runs_here
    (the doctor asks choose_artifact, so it would otherwise call a foreign engine runnable)."""
    import importlib.machinery
    import sys
    import types

    trt = types.ModuleType("tensorrt")
    trt.__spec__ = importlib.machinery.ModuleSpec("tensorrt", None)
    trt.__version__ = "10.3.0"
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    for name in ("cuda", "cuda.bindings", "cuda.bindings.runtime", "cuda.cudart"):
        monkeypatch.setitem(sys.modules, name, None)  # no cuda-python: no device answers
    b = bundle_with(tmp_path, ["tensorrt-fp16"])
    with pytest.raises(BackendUnavailableError, match="'tensorrt-fp16' cannot run here: no engine built for this"):
        choose_artifact(b, artifact="tensorrt-fp16")


def test_the_default_thread_count_is_the_usable_cores_at_most_four(monkeypatch):
    import facescreen.edge.backends.base as base

    for cores, expected in ((1, 1), (2, 2), (6, 4), (12, 4)):
        monkeypatch.setattr(base.os, "sched_getaffinity", lambda pid, n=cores: set(range(n)), raising=False)
        assert base.default_threads() == expected, cores


def test_every_runtime_runs_the_thread_count_make_bench_measures(detector_dir, monkeypatch):
    """Left to themselves LiteRT runs one thread and ONNX Runtime every physical core: the kiosk
    screened with the VGG-16 int8 screener on one core of two (74 ms a face) while make bench timed two
    (38 ms). With no thread count named, the screener backends and the detector all run
    ``default_threads()``, which is also facescreen-bench's ``--threads`` default."""
    import facescreen.edge.backends.base as base
    import facescreen.edge.backends.litert as litert_module
    from facescreen.edge.backends.litert import LiteRTBackend
    from facescreen.edge.backends.onnxruntime import OnnxRuntimeBackend
    from facescreen.edge.bench.cli import build_parser
    from facescreen.edge.detectors.mtcnn_lite import MtcnnLiteDetector

    # a 3-core machine: neither runtime's own default (LiteRT's is 1, ONNX Runtime's the physical cores)
    monkeypatch.setattr(base.os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    n = base.default_threads()
    assert n == 3
    spy = ThreadsAsked(litert_module.tflite_runtime())
    monkeypatch.setattr(litert_module, "tflite_runtime", lambda: spy)
    LiteRTBackend(detector_dir / "onet.tflite", "tflite-fp32", 48)
    assert spy.asked == [n]
    ort = OnnxRuntimeBackend(detector_dir / "onet.onnx", "onnx", 48, providers=["CPUExecutionProvider"])
    assert ort._session.get_session_options().intra_op_num_threads == n
    for runtime in ("onnxruntime", "litert"):
        det = MtcnnLiteDetector(detector_dir, runtime=runtime)
        for net in det._nets.values():
            got = net._session.get_session_options().intra_op_num_threads if runtime == "onnxruntime" else net._threads
            assert got == n, (runtime, got)
    assert build_parser().get_default("threads") == n


def save_tiny_keras_model(folder, *layers):
    """An 8-px screener with the outputs every backend returns (probs, cam), ``layers`` first."""
    import keras

    image = keras.Input((8, 8, 3))
    x = image
    for layer in layers:
        x = layer(x)
    cam = keras.layers.Conv2D(2, 1, name="cam")(x)
    probs = keras.layers.Softmax(name="probs")(keras.layers.GlobalAveragePooling2D()(cam))
    path = folder / "model.keras"
    keras.Model(image, {"probs": probs, "cam": cam}).save(path)
    return path


@tf_free.requires_tensorflow
def test_the_keras_backend_runs_the_model_traced_once_not_op_by_op(tmp_path):
    """Called directly, a Keras model runs eagerly: its layers' Python runs on every call, and the
    benchmark's Keras row timed that dispatch (1.25x the compiled VGG-16, 6x the demo screener) as
    Keras's speed. The backend runs it as Keras serves it, traced once per input shape, with the
    same answers."""
    import keras
    import numpy as np

    from facescreen.edge.backends.keras import KerasBackend

    calls = []

    @keras.saving.register_keras_serializable(package="facescreen_test")
    class Counted(keras.layers.Layer):
        def call(self, x):
            calls.append(1)  # Python: runs when traced, and on every eager call
            return x

    path = save_tiny_keras_model(tmp_path, Counted())
    backend = KerasBackend(path, "keras", 8)
    x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype(np.float32)
    first = backend.run(x)
    traced = len(calls)
    for _ in range(4):
        again = backend.run(x)
    assert len(calls) == traced, f"the model's Python ran on {len(calls) - traced} of 4 repeated calls"
    eager = backend._model(x, training=False)
    for got, want in ((first[0], eager["probs"]), (again[1], eager["cam"])):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-6, atol=1e-6)


@tf_free.requires_tensorflow
def test_the_keras_backend_runs_the_thread_count_every_runtime_runs(tmp_path):
    """TensorFlow's own default is every core; the benchmark's Keras row is the reference the other
    targets are read against, so it runs ``default_threads()`` like them. In a fresh process, as the
    benchmark runs each target, limited here to one core."""
    import subprocess
    import sys
    import textwrap

    path = save_tiny_keras_model(tmp_path)
    code = textwrap.dedent(
        f"""
        import os
        os.sched_setaffinity(0, {{sorted(os.sched_getaffinity(0))[0]}})
        import tensorflow as tf
        from facescreen.edge.backends.keras import KerasBackend
        b = KerasBackend({str(path)!r}, "keras", 8)
        print(tf.config.threading.get_intra_op_parallelism_threads(), b.runtime)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ran, runtime = proc.stdout.strip().splitlines()[-1].split(" ", 1)
    assert ran == "1" and "(tensorflow, intra-op threads 1)" in runtime, proc.stdout


def test_every_runtime_takes_its_thread_count_from_one_rule(detector_dir, monkeypatch):
    """More threads than cores only contend; ``--threads 99999`` had the runtimes start threads until
    Python could start none (a traceback, then a segmentation fault). The backends and the detector
    all ask inference_threads, so none runs a count the command line refuses."""
    import facescreen.edge.backends.base as base
    from facescreen.edge.backends.base import inference_threads
    from facescreen.edge.backends.litert import LiteRTBackend
    from facescreen.edge.backends.onnxruntime import OnnxRuntimeBackend
    from facescreen.edge.detectors.mtcnn_lite import MtcnnLiteDetector

    monkeypatch.setattr(base.os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert inference_threads(None) == 3 and inference_threads(1) == 1 and inference_threads(3) == 3
    for bad in (0, 4, 99999, -1, 2.0, True):
        with pytest.raises(FaceScreenError, match=r"from 1 to 3 \(the cores this process may use\), got"):
            inference_threads(bad)
    for make in (
        lambda: LiteRTBackend(detector_dir / "onet.tflite", "tflite-fp32", 48, threads=4),
        lambda: OnnxRuntimeBackend(detector_dir / "onet.onnx", "onnx", 48, threads=4),
        lambda: MtcnnLiteDetector(detector_dir, runtime="litert", threads=4),
        lambda: MtcnnLiteDetector(detector_dir, runtime="onnxruntime", threads=4),
    ):
        with pytest.raises(FaceScreenError, match="from 1 to 3"):
            make()
