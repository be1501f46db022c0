"""The training loop: a best checkpoint on validation, resumption after an interruption, the
final-model strategies, distribution and mixed precision on CPU, and the JAX backend."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import facescreen.training.fit as fit_module
from facescreen.training.callbacks import ProgressLog
from facescreen.training.config import build_config
from facescreen.training.data.dataset import TrainingData
from facescreen.training.fit import fit_screener, new_screener, predict
from facescreen.training.runtime import distribution_scope

SIZE = 32
ROOT = Path(__file__).resolve().parents[2]


def _cfg(**overrides):
    base = {
        "model": {"input_size": SIZE, "head_filters": [8]},
        "fit": {"epochs": 4, "batch_size": 8},
        "augment": {"enabled": False},
    }
    for k, v in overrides.items():
        base[k] = {**base.get(k, {}), **v}
    return build_config("quick-cpu", overrides=base)


def _data(n=40):
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 2
    faces = rng.integers(0, 255, (n, SIZE, SIZE, 3), dtype=np.uint8)
    faces[labels == 1, : SIZE // 2] //= 3  # learnable: the top half of class 1 is dark
    return faces, labels


class Interrupted(Exception):
    pass


def test_an_interrupted_fit_resumes_from_its_last_checkpoint(tmp_path, monkeypatch):
    faces, labels = _data()
    cfg = _cfg(fit={"checkpoint_every": 2})
    train, val = np.arange(0, 30), np.arange(30, 40)
    epochs_run = []

    class StopAfterThree(ProgressLog):
        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            epochs_run.append(epoch + 1)
            if epoch == 2:
                raise Interrupted  # the machine goes away after epoch 3; the last checkpoint is epoch 2's

    def fresh():
        return new_screener(cfg, cfg.model.model_config(("control", "syndromic"), ("syndromic",)), seed=1)[0]

    monkeypatch.setattr(fit_module, "ProgressLog", StopAfterThree)
    with pytest.raises(Interrupted):
        fit_screener(fresh(), faces, labels, train, val, [1], cfg, tmp_path, seed=1)
    assert (tmp_path / fit_module.RESUME_FILE).is_file()

    monkeypatch.setattr(fit_module, "ProgressLog", ProgressLog)
    resumed_model = fresh()
    resumed = fit_screener(resumed_model, faces, labels, train, val, [1], cfg, tmp_path, seed=1)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3, 4] and resumed.epochs_run == 4
    assert epochs_run == [1, 2, 3]

    # the finished fit's checkpoint stays until the caller's results are written: a crash after the
    # fit (the threshold, the test scoring) resumes with no epoch to train and the same best weights
    assert (tmp_path / fit_module.RESUME_FILE).is_file()
    again_model = fresh()
    again = fit_screener(again_model, faces, labels, train, val, [1], cfg, tmp_path, seed=1)
    assert again.images_per_s == 0 and again.best_epoch == resumed.best_epoch and again.history == resumed.history
    np.testing.assert_allclose(
        predict(again_model, faces[val], 8)["probs"], predict(resumed_model, faces[val], 8)["probs"], rtol=1e-5
    )
    fit_module.discard_resume(tmp_path)
    assert not (tmp_path / fit_module.RESUME_FILE).exists()

    # an unbroken fit gives the same result: weights, optimiser state and data order were all restored
    unbroken_model = fresh()
    unbroken = fit_screener(unbroken_model, faces, labels, train, val, [1], cfg, tmp_path / "unbroken", seed=1)
    assert [h["val_loss"] for h in unbroken.history] == pytest.approx(
        [h["val_loss"] for h in resumed.history], rel=1e-4
    )
    assert unbroken.best_epoch == resumed.best_epoch
    best = min(resumed.history, key=lambda h: h["val_loss"])
    assert resumed.best_epoch == best["epoch"] and resumed.best_val_loss == pytest.approx(best["val_loss"])
    # the model holds the best epoch's weights: its validation loss is the best one recorded
    p = predict(resumed_model, faces[val], 8)["probs"]
    assert -np.mean(np.log(p[np.arange(10), labels[val]])) == pytest.approx(best["val_loss"], rel=1e-4)


def test_final_model_on_all_photos_uses_the_folds_median_epoch_and_threshold(tmp_path):
    from facescreen.training.final import train_final

    faces, labels = _data()
    data = TrainingData(
        faces=faces,
        labels=labels,
        classes=("control", "syndromic"),
        positive_classes=("syndromic",),
        subject_ids=tuple(map(str, range(40))),
        paths=tuple(map(str, range(40))),
        strata=tuple(str(v) for v in labels),
    )
    folds = [
        SimpleNamespace(fit=SimpleNamespace(best_epoch=e), threshold=SimpleNamespace(value=t))
        for e, t in ((1, 0.3), (2, 0.4), (1, 0.6), (3, 0.5), (1, 0.45))
    ]
    final = train_final(data, _cfg(final={"strategy": "all"}), np.arange(40) % 5, folds, tmp_path)
    assert final.strategy == "all" and final.n_train == 40 and final.fit.epochs_run == 1
    assert final.threshold.value == pytest.approx(0.45) and "median" in final.threshold.rule
    assert train_final(data, _cfg(final={"strategy": "none"}), np.arange(40) % 5, folds, tmp_path) is None
    # refit: parts 2..5 train, part 1 (the 8 photos with part 0) early-stops and thresholds
    refit = train_final(data, _cfg(final={"strategy": "refit"}), np.arange(40) % 5, folds, tmp_path / "refit")
    assert refit.strategy == "refit" and (refit.n_train, refit.n_validation) == (32, 8)
    assert refit.threshold.n_validation == 8 and 1 <= refit.fit.epochs_run <= 4


def test_mirrored_strategy_and_mixed_precision_on_cpu(tmp_path):
    faces, labels = _data()
    cfg = _cfg(fit={"epochs": 1}, runtime={"distribute": "mirrored", "mixed_precision": "bfloat16"})
    with distribution_scope(cfg.runtime.distribute):
        model, _ = new_screener(cfg, cfg.model.model_config(("control", "syndromic"), ("syndromic",)), seed=1)
        assert model.get_layer("head_conv1").compute_dtype == "bfloat16"
        fit_screener(model, faces, labels, np.arange(30), np.arange(30, 40), [1], cfg, tmp_path, seed=1)
    out = predict(model, faces[:4], 4)
    assert out["probs"].dtype == np.float32 and np.allclose(out["probs"].sum(1), 1, atol=1e-3)
    import keras

    assert keras.config.dtype_policy().name == "float32"  # the policy was only set while building


def test_wrong_backend_for_a_distribution_is_an_error():
    from facescreen.training.runtime import RuntimeUnavailableError

    with pytest.raises(RuntimeUnavailableError, match="KERAS_BACKEND=jax"):
        with distribution_scope("data-parallel"):
            pass


JAX_SCRIPT = textwrap.dedent("""
    from pathlib import Path
    import numpy as np, keras
    assert keras.backend.backend() == "jax"
    from facescreen.training.config import build_config
    from facescreen.training.explain import gradcam_lowres
    from facescreen.training.fit import fit_screener, new_screener, predict
    from facescreen.training.runtime import distribution_scope
    rng = np.random.default_rng(0)
    labels = np.arange(24) % 2
    faces = rng.integers(0, 255, (24, 32, 32, 3), dtype=np.uint8)
    cfg = build_config("quick-cpu", overrides={"model": {"input_size": 32, "head_filters": [8]},
                       "fit": {"epochs": 2, "batch_size": 8}, "runtime": {"distribute": "data-parallel"}})
    with distribution_scope(cfg.runtime.distribute):
        model, _ = new_screener(cfg, cfg.model.model_config(("control", "syndromic"), ("syndromic",)), seed=0)
        out = fit_screener(model, faces, labels, np.arange(16), np.arange(16, 24), [1], cfg, Path(WORK), seed=0)
    p = predict(model, faces[:4], 4)["probs"]
    g = gradcam_lowres(model, faces[:2], [1])
    assert out.epochs_run == 2 and p.shape == (4, 2) and g.shape[0] == 2 and np.isfinite(g).all()
    print("JAX-OK", keras.distribution.list_devices())
""")


def test_the_same_code_trains_under_jax(tmp_path):
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "PYTHONPATH": str(ROOT),
    }
    script = JAX_SCRIPT.replace("WORK", repr(str(tmp_path)))
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "JAX-OK" in run.stdout and "cpu:1" in run.stdout  # data-parallel over two (host) devices
