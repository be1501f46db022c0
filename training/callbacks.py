"""Keras callbacks of the training loop: validation monitoring with early stopping and the best
epoch's weights, the resume checkpoint, and one progress line per epoch with an ETA."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from facescreen.edge.metrics import roc_auc
from facescreen.edge.postprocess import screening_probability

from .checkpoint import save_resume_checkpoint

log = logging.getLogger("training")


class ValidationMonitor(keras.callbacks.Callback):
    """Scores the validation split after every epoch (cross-entropy and screening AUC), keeps the
    best epoch's weights (in memory; the resume checkpoint carries them) and stops after
    ``patience`` epochs without improvement (0: never stops early).

    "Better" is a lower ``val_loss``, or for ``val_auc`` a higher AUC (equal AUC: lower loss).
    """

    def __init__(
        self, predict: Callable[[], np.ndarray], y_val: np.ndarray, positive: list[int], monitor: str, patience: int
    ) -> None:
        super().__init__()
        self.predict, self.y_val = predict, np.asarray(y_val, dtype=np.int64)
        self.y_bin = np.isin(self.y_val, positive).astype(np.int64)
        self.positive, self.monitor, self.patience = positive, monitor, patience
        self.state = {"history": [], "best_epoch": None, "best_loss": math.inf, "best_auc": -math.inf, "wait": 0}
        self.best_weights: list[np.ndarray] | None = None

    def _better(self, loss: float, auc: float) -> bool:
        if self.monitor == "val_loss":
            return loss < self.state["best_loss"]
        a = -1.0 if math.isnan(auc) else auc
        return a > self.state["best_auc"] or (a == self.state["best_auc"] and loss < self.state["best_loss"])

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        probs = np.asarray(self.predict(), dtype=np.float64)
        loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(self.y_val)), self.y_val], 1e-7, 1.0))))
        auc = roc_auc(self.y_bin, screening_probability(probs, self.positive))
        if logs is not None:
            logs.update(val_loss=loss, val_auc=auc)
        entry = {
            "epoch": epoch + 1,
            "loss": float((logs or {}).get("loss", float("nan"))),
            "val_loss": loss,
            "val_auc": auc,
        }
        self.state["history"].append(entry)
        if self._better(loss, auc):
            self.best_weights = [np.array(w) for w in self.model.get_weights()]
            self.state.update(best_epoch=epoch + 1, best_loss=loss, best_auc=-1.0 if math.isnan(auc) else auc, wait=0)
        else:
            self.state["wait"] += 1
            if self.patience and self.state["wait"] >= self.patience:
                self.model.stop_training = True
        if logs is not None:
            logs["best_epoch"] = self.state["best_epoch"]


class ResumeCheckpoint(keras.callbacks.Callback):
    """Every ``every`` epochs (0: never), the whole training state in one file: the weights, the
    optimiser's variables, the epoch, and the validation monitor's state and best weights, so an
    interrupted fit continues exactly where this checkpoint was taken."""

    def __init__(self, path: Path, every: int, monitor: ValidationMonitor | None) -> None:
        super().__init__()
        self.path, self.every, self.monitor = Path(path), every, monitor

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if self.every and (epoch + 1) % self.every == 0:
            save_resume_checkpoint(self.path, self.model, epoch + 1, self.monitor)

    def on_train_end(self, logs=None) -> None:
        # the finished fit (early-stopped or not): a resumed run has no epoch left to train and gets
        # the best weights back. The caller discards it once what it computed is on disk
        # (``fit.discard_resume``): a crash between the fit and its results must not cost the fit.
        if self.every:
            save_resume_checkpoint(self.path, self.model, self.params["epochs"], self.monitor)


class RunClock:
    """Time spent and planned across the whole run (folds and final model), for the ETA."""

    def __init__(self, planned_epochs: int) -> None:
        self.planned = max(1, planned_epochs)
        self.done = 0
        self.seconds = 0.0

    def add_epoch(self, seconds: float) -> None:
        self.done += 1
        self.seconds += seconds

    def skip(self, epochs: int) -> None:
        """Epochs that will not run (early stopping, or a fold reloaded from a finished run)."""
        self.planned = max(self.done, self.planned - epochs)

    def eta(self) -> float:
        return (self.planned - self.done) * (self.seconds / self.done) if self.done else float("nan")


def format_seconds(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class ProgressLog(keras.callbacks.Callback):
    """One line per epoch: ``fold 2/5 | epoch 7/100 | loss .. | val .. | best 6 | 2.1 s/epoch, 45 images/s | ETA``
    (images/s: the training images of the epoch over its whole time, validation scoring included)."""

    def __init__(self, label: str, epochs: int, clock: RunClock | None = None, images_per_epoch: int = 0) -> None:
        super().__init__()
        self.label, self.epochs, self.clock, self.images = label, epochs, clock, images_per_epoch
        self._t0 = 0.0
        self._last_epoch = None

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        if self._last_epoch is None and self.clock and epoch > 0:
            self.clock.skip(epoch)  # resumed: these epochs ran in an earlier process
        self._last_epoch = epoch
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        dt = time.perf_counter() - self._t0
        self._last_epoch = epoch + 1
        logs = logs or {}
        if self.clock:
            self.clock.add_epoch(dt)
        parts = [self.label, f"epoch {epoch + 1}/{self.epochs}", f"loss {logs.get('loss', float('nan')):.4f}"]
        if "val_loss" in logs:
            parts.append(
                f"val_loss {logs['val_loss']:.4f} val_auc {logs['val_auc']:.3f} (best epoch {logs.get('best_epoch')})"
            )
        parts.append(f"{dt:.1f} s/epoch" + (f", {self.images / dt:.1f} images/s" if self.images and dt > 0 else ""))
        if self.clock:
            parts.append(f"run ETA {format_seconds(self.clock.eta())}")
        log.info(" | ".join(parts))

    def on_train_end(self, logs=None) -> None:
        if self.clock and self._last_epoch is not None and self._last_epoch < self.epochs:
            self.clock.skip(self.epochs - self._last_epoch)
