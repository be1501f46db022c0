"""Train one screener: build it, load its initial weights, fit with augmentation, early stopping and
a best checkpoint on validation, and resume from the last epoch after an interruption.

Backend-agnostic Keras 3: the same code runs under TensorFlow and JAX.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np

from .callbacks import ProgressLog, ResumeCheckpoint, RunClock, ValidationMonitor
from .checkpoint import restore_resume_checkpoint
from .config import TrainConfig
from .data.sequence import FaceSequence, balanced_sample_weights
from .model import ModelConfig, build_screener
from .optimisers import create_optimiser
from .runtime import jit_compile, precision, set_seeds
from .weights import WeightsRecord, load_initial_weights

RESUME_FILE = "resume.npz"
EPOCH_LOG = "epochs.csv"  # one row per epoch: loss, val_loss, val_auc, best_epoch
log = logging.getLogger("training")


@dataclass(frozen=True)
class FitOutcome:
    best_epoch: int
    epochs_run: int
    best_val_loss: float
    best_val_auc: float
    seconds: float
    history: tuple[dict, ...]
    images_per_s: float = float("nan")  # training images through fit() per second (per-epoch validation included)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["history"] = list(self.history)
        return d


def new_screener(cfg: TrainConfig, model_cfg: ModelConfig, seed: int) -> tuple[keras.Model, WeightsRecord]:
    """A fresh screener with its initial weights (call inside the distribution scope)."""
    set_seeds(seed)
    with precision(cfg.runtime.mixed_precision):
        model = build_screener(model_cfg)
    record = load_initial_weights(model, model_cfg, cfg.model.weights)
    return model, record


def probs_model(model: keras.Model) -> keras.Model:
    """The trainable view: the screener's ``probs`` output only (the ``cam`` output is for display)."""
    return keras.Model(model.input, model.output["probs"], name=f"{model.name}_probs")


def predict(model: keras.Model, faces: np.ndarray, batch_size: int) -> dict[str, np.ndarray]:
    """``{"probs": (N, K), "cam": (N, h, w, K)}`` as float32 numpy, for uint8 or float faces.

    The input is padded to whole batches (and the padding dropped), so every call runs batches of
    one shape and the compiled predict step is traced once, whatever the split sizes."""
    x = np.asarray(faces, dtype=np.float32)
    n = len(x)
    pad = -n % batch_size
    if pad:
        x = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)])
    out = model.predict(x, batch_size=batch_size, verbose=0)
    return {k: np.asarray(v, dtype=np.float32)[:n] for k, v in out.items()}


def check_tensorboard() -> None:
    """``--tensorboard`` needs the tensorboard package (tf.summary writes through it)."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        from .runtime import RuntimeUnavailableError

        raise RuntimeUnavailableError(
            "--tensorboard needs the tensorboard package: pip install tensorboard==2.21.0 "
            "(part of facescreen's train extra)"
        )


def discard_resume(workdir: Path) -> None:
    """Delete a fit's resume checkpoint: call it only once the results computed from the fit are on disk."""
    (workdir / RESUME_FILE).unlink(missing_ok=True)


def fit_screener(
    model: keras.Model,
    faces: np.ndarray,
    labels: np.ndarray,
    train_idx: np.ndarray,
    val_idx: np.ndarray | None,
    positive: list[int],
    cfg: TrainConfig,
    workdir: Path,
    seed: int,
    label: str = "",
    clock: RunClock | None = None,
    epochs: int | None = None,
) -> FitOutcome:
    """Fit ``model`` in place; on return it holds the best weights on validation (or, without a
    validation split, those of the last epoch). ``workdir`` keeps the checkpoints for resuming; the last
    one, of the finished fit, stays until the caller has written its results (:func:`discard_resume`)."""
    workdir.mkdir(parents=True, exist_ok=True)
    epochs = epochs or cfg.fit.epochs
    labels = np.asarray(labels, dtype=np.int64)
    trainable = probs_model(model)
    trainable.compile(
        optimizer=create_optimiser(cfg.optimiser),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        jit_compile=jit_compile(cfg.runtime.xla),
    )
    # optimiser variables made now, not inside the first compiled step (which TensorFlow then traces twice)
    trainable.optimizer.build(trainable.trainable_variables)
    weights = None
    if cfg.fit.class_weight == "balanced":
        weights = np.zeros(len(labels), np.float32)
        weights[train_idx] = balanced_sample_weights(labels[train_idx], int(model.output["probs"].shape[-1]))
    callbacks: list[keras.callbacks.Callback] = []
    monitor = None
    if val_idx is not None and len(val_idx):
        x_val = faces[val_idx].astype(np.float32)
        # the screener's own predict function, which scores validation and test afterwards (one trace)
        monitor = ValidationMonitor(
            lambda: predict(model, x_val, cfg.fit.batch_size)["probs"],
            labels[val_idx],
            positive,
            cfg.fit.monitor,
            cfg.fit.patience,
        )
        callbacks.append(monitor)
    resume = workdir / RESUME_FILE
    initial_epoch = restore_resume_checkpoint(resume, trainable, monitor) if resume.is_file() else 0
    if initial_epoch:
        log.info("%s: resuming after epoch %d from %s", label, initial_epoch, resume)
    train = FaceSequence(
        faces,
        labels,
        train_idx,
        cfg.fit.batch_size,
        augment=cfg.augment if cfg.augment.enabled else None,
        seed=seed,
        sample_weights=weights,
        start_epoch=initial_epoch,
        workers=cfg.runtime.workers,
        use_multiprocessing=False,
    )
    # after the monitor, so that the per-epoch CSV and TensorBoard see its val_loss / val_auc
    callbacks.append(keras.callbacks.CSVLogger(str(workdir / EPOCH_LOG), append=initial_epoch > 0))
    if cfg.fit.tensorboard:
        check_tensorboard()
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(workdir / "tensorboard"), write_graph=False))
    callbacks += [
        ResumeCheckpoint(resume, cfg.fit.checkpoint_every, monitor),
        ProgressLog(label, epochs, clock, images_per_epoch=train.steps_per_epoch * cfg.fit.batch_size),
    ]
    t0 = time.perf_counter()
    hist = trainable.fit(
        train,
        epochs=epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=train.steps_per_epoch,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )  # the sequence shuffles, seeded
    seconds = time.perf_counter() - t0
    images_per_s = (epochs - initial_epoch) * train.steps_per_epoch * cfg.fit.batch_size / max(seconds, 1e-9)
    log.info("%s: %.1f training images/s", label, images_per_s)
    if monitor is None:
        losses = hist.history.get("loss", [])
        history = tuple({"epoch": initial_epoch + i + 1, "loss": float(v)} for i, v in enumerate(losses))
        return FitOutcome(
            best_epoch=epochs,
            epochs_run=epochs,
            best_val_loss=float("nan"),
            best_val_auc=float("nan"),
            seconds=seconds,
            history=history,
            images_per_s=images_per_s,
        )
    trainable.set_weights(monitor.best_weights)
    s = monitor.state
    return FitOutcome(
        best_epoch=int(s["best_epoch"]),
        epochs_run=len(s["history"]),
        best_val_loss=float(s["best_loss"]),
        best_val_auc=float(s["best_auc"]),
        seconds=seconds,
        history=tuple(s["history"]),
        images_per_s=images_per_s,
    )
