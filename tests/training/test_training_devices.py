"""Where training runs is said, recorded, and a GPU the framework cannot see is a warning; the GPU
smoke (VGG-16 at 224 px, batch 32, mixed precision) runs only where a GPU is visible."""

from __future__ import annotations

import time

import pytest

from facescreen.training.runtime import device_line, device_report, system_gpus


def test_system_gpus_from_the_driver_proc_files(tmp_path):
    gpu = tmp_path / "gpus" / "0000:01:00.0"
    gpu.mkdir(parents=True)
    (gpu / "information").write_text("Model: \t\t NVIDIA H200\nIRQ:   123\n")
    assert system_gpus(proc=tmp_path / "gpus", dev=tmp_path) == ["NVIDIA H200"]


def test_system_gpus_from_device_nodes(tmp_path, monkeypatch):
    import facescreen.training.runtime as rt

    monkeypatch.setattr(rt.shutil, "which", lambda name: None)  # no nvidia-smi
    (tmp_path / "nvidia0").touch()
    (tmp_path / "nvidiactl").touch()
    assert system_gpus(proc=tmp_path / "none", dev=tmp_path) == ["nvidia0"]


def test_an_unseen_gpu_is_a_warning_with_the_install_command():
    report = device_report("bfloat16", gpus_here=["NVIDIA RTX 4090"])
    if report["uses"] == "cpu":
        assert "NVIDIA RTX 4090" in report["warning"] and "train-gpu" in report["warning"]
    assert report["precision_policy"] == "mixed_bfloat16"
    assert report["uses"].upper() in device_line(report) and "mixed_bfloat16" in device_line(report)


def test_no_gpu_no_warning():
    assert device_report("off", gpus_here=[])["warning"] is None


def _visible_gpu() -> str | None:
    import keras

    gpus = [str(d) for d in keras.distribution.list_devices() if not str(d).lower().startswith("cpu")]
    return gpus[0] if gpus else None


@pytest.mark.skipif(
    _visible_gpu() is None,
    reason="no GPU visible to Keras on this machine (GPU throughput is not measured here; see README)",
)
def test_gpu_smoke_vgg16_224_batch32_mixed_precision():
    """Trains VGG-16 at 224 px, batch 32, mixed bfloat16 for a few steps on the GPU; prints images/s."""
    import keras
    import numpy as np

    from facescreen.training.model import ModelConfig, build_screener
    from facescreen.training.runtime import precision

    with precision("bfloat16"):
        model = build_screener(ModelConfig(backbone="vgg16", input_size=224))
    trainable = keras.Model(model.input, model.output["probs"])
    trainable.compile(optimizer="adam", loss="sparse_categorical_crossentropy", jit_compile=True)
    x = np.random.default_rng(0).uniform(0, 255, (32 * 6, 224, 224, 3)).astype("float32")
    y = np.arange(len(x)) % 2
    trainable.fit(x[:64], y[:64], batch_size=32, epochs=1, verbose=0)  # compile + warm-up
    t0 = time.perf_counter()
    hist = trainable.fit(x, y, batch_size=32, epochs=1, verbose=0)
    rate = len(x) / (time.perf_counter() - t0)
    print(f"VGG-16 224 px batch 32 mixed_bfloat16 on {_visible_gpu()}: {rate:.0f} images/s")
    assert np.isfinite(hist.history["loss"][-1])


@pytest.mark.parametrize(("env", "expected"), [(None, True), ("0", False)], ids=["default", "user-turned-off"])
def test_importing_facescreen_switches_tensorflows_onednn_kernels_on_unless_the_user_said(env, expected):
    """TensorFlow reads TF_ENABLE_ONEDNN_OPTS once, at import: ``import facescreen`` first must turn its
    oneDNN kernels on (off by default on CPUs without AVX-512 VNNI/BF16 or AMX, where training steps
    were 4x slower: facescreen/__init__.py), and a value the user set must win. A new process each:
    this one has imported TensorFlow already."""
    import os
    import subprocess
    import sys

    child_env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if env is not None:
        child_env["TF_ENABLE_ONEDNN_OPTS"] = env
    probe = (
        "import facescreen, tensorflow\n"
        "from tensorflow.python.util import _pywrap_util_port\n"
        "print(_pywrap_util_port.IsMklEnabled())"
    )
    out = subprocess.run([sys.executable, "-c", probe], env=child_env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == str(expected)
