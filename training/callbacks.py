"""Keras callbacks of the training loop: validation monitoring with early stopping and a best
checkpoint (resumable), and one progress line per epoch with an ETA."""
from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Callable

import keras
import numpy as np

from .metrics import auc_score

log = logging.getLogger("training")


class ValidationMonitor(keras.callbacks.Callback):
    """Scores the validation split after every epoch (cross-entropy and screening AUC), keeps the
    best weights in ``best_path`` and stops after ``patience`` epochs without improvement
    (0: never stops early). Its state is saved every epoch so an interrupted fit resumes with it.

    "Better" is a lower ``val_loss``, or for ``val_auc`` a higher AUC (equal AUC: lower loss).
    """

    def __init__(self, predict: Callable[[], np.ndarray], y_val: np.ndarray, positive: list[int], monitor: str,
                 patience: int, best_path: Path, state_path: Path) -> None:
        super().__init__()
        self.predict, self.y_val = predict, np.asarray(y_val, dtype=np.int64)
        self.y_bin = np.isin(self.y_val, positive).astype(np.int64)
        self.positive, self.monitor, self.patience = positive, monitor, patience
        self.best_path, self.state_path = Path(best_path), Path(state_path)
        self.state = {"history": [], "best_epoch": None, "best_loss": math.inf, "best_auc": -math.inf, "wait": 0}

    def on_train_begin(self, logs=None) -> None:
        if self.state_path.is_file() and self.best_path.is_file():
            self.state = json.loads(self.state_path.read_text())
            self.state["best_loss"] = float(self.state["best_loss"])
            self.state["best_auc"] = float(self.state["best_auc"])

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        # after a resume, epochs from here on are re-run: forget what they said before
        self.state["history"] = [h for h in self.state["history"] if h["epoch"] < epoch + 1]

    def _better(self, loss: float, auc: float) -> bool:
        if self.monitor == "val_loss":
            return loss < self.state["best_loss"]
        a = -1.0 if math.isnan(auc) else auc
        return a > self.state["best_auc"] or (a == self.state["best_auc"] and loss < self.state["best_loss"])

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        probs = np.asarray(self.predict(), dtype=np.float64)
        loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(self.y_val)), self.y_val], 1e-7, 1.0))))
        auc = auc_score(self.y_bin, probs[:, self.positive].sum(1))
        if logs is not None:
            logs.update(val_loss=loss, val_auc=auc)
        entry = {"epoch": epoch + 1, "loss": float((logs or {}).get("loss", float("nan"))), "val_loss": loss, "val_auc": auc}
        self.state["history"].append(entry)
        if self._better(loss, auc):
            self.model.save_weights(str(self.best_path))
            self.state.update(best_epoch=epoch + 1, best_loss=loss, best_auc=-1.0 if math.isnan(auc) else auc, wait=0)
        else:
            self.state["wait"] += 1
            if self.patience and self.state["wait"] >= self.patience:
                self.model.stop_training = True
        if logs is not None:
            logs["best_epoch"] = self.state["best_epoch"]
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, allow_nan=True))
        tmp.replace(self.state_path)


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
    """One line per epoch: ``fold 2/5 | epoch 7/100 | loss .. | val .. | best 6 | 2.1 s/epoch | ETA``."""

    def __init__(self, label: str, epochs: int, clock: RunClock | None = None) -> None:
        super().__init__()
        self.label, self.epochs, self.clock = label, epochs, clock
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
            parts.append(f"val_loss {logs['val_loss']:.4f} val_auc {logs['val_auc']:.3f} (best epoch {logs.get('best_epoch')})")
        parts.append(f"{dt:.1f} s/epoch")
        if self.clock:
            parts.append(f"run ETA {format_seconds(self.clock.eta())}")
        log.info(" | ".join(parts))

    def on_train_end(self, logs=None) -> None:
        if self.clock and self._last_epoch is not None and self._last_epoch < self.epochs:
            self.clock.skip(self.epochs - self._last_epoch)
