"""The model that ships, after the cross-validation has measured the procedure.

Strategies (a registry; ``final.strategy`` / ``--final``):

- ``refit`` (default): all photos are non-test data now. Train on all parts but one, early-stop
  and choose the threshold on the remaining part (the first), exactly as a fold does.
- ``all``: train on every photo for the median best epoch of the folds (no validation split, so
  no early stopping); the threshold is the median of the folds' validation thresholds.
- ``none``: no final model (e.g. for a negative-control run).

In every case the expected performance is the cross-validated one, which the model card carries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from facescreen.edge.postprocess import screening_probability
from facescreen.edge.registry import Registry

from .calibration import fit_temperature
from .callbacks import RunClock
from .config import TrainConfig
from .data.dataset import TrainingData
from .fit import FitOutcome, fit_screener, new_screener, predict
from .runtime import distribution_scope
from .thresholds import ThresholdChoice, select_threshold
from .weights import WeightsRecord

log = logging.getLogger("training")


@dataclass(frozen=True)
class FinalModel:
    model: keras.Model
    threshold: ThresholdChoice
    fit: FitOutcome
    strategy: str
    n_train: int
    n_validation: int
    weights: dict
    description: str
    temperature: dict | None = None  # {"temperature": T, "fitted_on": ..., ...} for the model card


def _train(
    data: TrainingData,
    cfg: TrainConfig,
    train: np.ndarray,
    val: np.ndarray | None,
    run_dir: Path,
    clock: RunClock | None,
    epochs: int | None = None,
) -> tuple[keras.Model, WeightsRecord, FitOutcome]:
    """A new screener fitted on ``train`` (early-stopped on ``val`` when given, else for ``epochs``), with
    the seed every final model uses, so a resumed run rebuilds the same one."""
    seed = cfg.seed * 1000 + 999
    with distribution_scope(cfg.runtime.distribute):
        model, weights = new_screener(cfg, cfg.model.model_config(data.classes, data.positive_classes), seed)
        fit = fit_screener(
            model,
            data.faces,
            data.labels,
            train,
            val,
            data.positive,
            cfg,
            run_dir / "final",
            seed,
            label="final model",
            clock=clock,
            epochs=epochs,
        )
    return model, weights, fit


def _refit(
    data: TrainingData, cfg: TrainConfig, parts: np.ndarray, fold_results: list, run_dir: Path, clock: RunClock | None
) -> FinalModel:
    val = np.flatnonzero(parts == 0)
    train = np.flatnonzero(parts != 0)
    model, weights, fit = _train(data, cfg, train, val, run_dir, clock)
    probs = predict(model, data.faces[val], cfg.fit.batch_size)["probs"]
    temperature = None
    if cfg.evaluation.temperature_scaling:
        fit_t = fit_temperature(data.labels[val], probs)
        temperature = {
            **fit_t.to_dict(),
            "fitted_on": f"the final model's validation split (part 1, {len(val)} photos)",
        }
        if fit_t.at_bound:
            log.warning(
                "final model: WARNING the temperature stopped at the end of its range (%.3g): refused, the "
                "bundle ships without temperature scaling (T = 1)",
                fit_t.fitted,
            )
    scores = screening_probability(probs, data.positive, temperature["temperature"] if temperature else 1.0)
    threshold = select_threshold(cfg.threshold, data.y_binary[val], scores)
    return FinalModel(
        model,
        threshold,
        fit,
        "refit",
        len(train),
        len(val),
        weights.to_dict(),
        f"trained on parts 2..{cfg.cv.n_folds} ({len(train)} photos), early-stopped"
        + (", temperature-scaled" if temperature else "")
        + f" and thresholded on part 1 ({len(val)} photos)",
        temperature,
    )


def _all(
    data: TrainingData, cfg: TrainConfig, parts: np.ndarray, fold_results: list, run_dir: Path, clock: RunClock | None
) -> FinalModel:
    epochs = max(1, int(np.median([r.fit.best_epoch for r in fold_results])))
    value = float(np.median([r.threshold.value for r in fold_results]))
    train = np.arange(len(data.labels))
    model, weights, fit = _train(data, cfg, train, None, run_dir, clock, epochs=epochs)
    threshold = ThresholdChoice(
        value=value,
        rule=f"median of the {len(fold_results)} folds' {cfg.threshold.rule} thresholds",
        validation_sensitivity=float("nan"),
        validation_specificity=float("nan"),
        n_validation=0,
    )
    temperature = None
    if cfg.evaluation.temperature_scaling:  # no validation split left: the folds' validation-fitted temperatures
        temperature = {
            "temperature": float(np.median([r.t for r in fold_results])),
            "fitted_on": f"median of the {len(fold_results)} folds' validation-fitted temperatures",
        }
    return FinalModel(
        model,
        threshold,
        fit,
        "all",
        len(train),
        0,
        weights.to_dict(),
        f"trained on all {len(train)} photos for {epochs} epochs (the folds' median best epoch)",
        temperature,
    )


TrainFinal = Callable[[TrainingData, TrainConfig, np.ndarray, list, Path, RunClock | None], FinalModel]


@dataclass(frozen=True)
class FinalStrategy:
    """One way to make the shipped model; ``train`` is None for a run that ships none."""

    name: str
    train: TrainFinal | None

    @property
    def trains(self) -> bool:
        return self.train is not None


FINAL_STRATEGIES: Registry[FinalStrategy] = Registry("final-model strategy")
FINAL_STRATEGIES.register("refit", lambda: FinalStrategy("refit", _refit))
FINAL_STRATEGIES.register("all", lambda: FinalStrategy("all", _all))
FINAL_STRATEGIES.register("none", lambda: FinalStrategy("none", None))


def train_final(
    data: TrainingData,
    cfg: TrainConfig,
    parts: np.ndarray,
    fold_results: list,
    run_dir: Path,
    clock: RunClock | None = None,
) -> FinalModel | None:
    strategy = FINAL_STRATEGIES.create(cfg.final.strategy)
    if not strategy.trains:
        return None
    log.info("final model: strategy %s", strategy.name)
    return strategy.train(data, cfg, parts, fold_results, run_dir, clock)


def planned_final_epochs(cfg: TrainConfig) -> int:
    return cfg.fit.epochs if FINAL_STRATEGIES.create(cfg.final.strategy).trains else 0
