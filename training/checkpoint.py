"""The resume checkpoint: everything an interrupted fit needs to continue, in one ``.npz``.

The model's variables (weights, batch-norm statistics, dropout seed states), the optimiser's
variables (moments, step count), the number of finished epochs, and the validation monitor's state
with its best weights. Plain numpy arrays, written atomically,
read back only into the same architecture and optimiser by this package.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import keras
import numpy as np

if TYPE_CHECKING:
    from .callbacks import ValidationMonitor


def save_resume_checkpoint(path: Path, model: keras.Model, epochs_done: int, monitor: ValidationMonitor | None) -> None:
    arrays = {f"w{i}": np.asarray(v) for i, v in enumerate(model.variables)}  # weights, BN statistics, dropout seeds
    arrays |= {f"o{i}": np.asarray(v) for i, v in enumerate(model.optimizer.variables)}
    meta = {
        "epochs_done": epochs_done,
        "n_weights": len(model.variables),
        "n_optimiser": len(model.optimizer.variables),
        "monitor": monitor.state if monitor else None,
        "n_best": len(monitor.best_weights) if monitor and monitor.best_weights is not None else 0,
    }
    if meta["n_best"]:
        arrays |= {f"b{i}": w for i, w in enumerate(monitor.best_weights)}
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, meta=np.array(json.dumps(meta)), **arrays)
    tmp.replace(path)  # atomic: an interruption never leaves half a checkpoint


def restore_resume_checkpoint(path: Path, model: keras.Model, monitor: ValidationMonitor | None) -> int:
    """Load the checkpoint into ``model`` (its optimiser built) and ``monitor``; returns the epochs done."""
    with np.load(path, allow_pickle=False) as d:
        meta = json.loads(str(d["meta"]))
        if meta["n_weights"] != len(model.variables) or meta["n_optimiser"] != len(model.optimizer.variables):
            raise ValueError(f"{path} was written by a different model or optimiser; delete it to start the fit afresh")
        for i, v in enumerate(model.variables):
            v.assign(d[f"w{i}"])
        for i, v in enumerate(model.optimizer.variables):
            v.assign(d[f"o{i}"])
        if monitor is not None and meta["monitor"] is not None:
            monitor.state = meta["monitor"]
            monitor.best_weights = [d[f"b{i}"] for i in range(meta["n_best"])] if meta["n_best"] else None
    return int(meta["epochs_done"])
