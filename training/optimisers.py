"""Optimiser registry: the papers' RMSProp and SGD, and Adam."""

from __future__ import annotations

from dataclasses import dataclass

import keras

from facescreen.edge.registry import Registry


@dataclass(frozen=True)
class OptimiserConfig:
    name: str = "rmsprop"
    learning_rate: float = 1e-4
    momentum: float = 0.0
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        OPTIMISERS.get(self.name)  # raises with the valid names
        if not 0.0 < self.learning_rate < 10.0:
            raise ValueError(f"learning_rate must be in (0, 10), got {self.learning_rate}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")


def _decay(cfg: OptimiserConfig) -> float | None:
    return cfg.weight_decay or None


OPTIMISERS: Registry[keras.optimizers.Optimizer] = Registry("optimiser")
OPTIMISERS.register(
    "rmsprop", lambda c: keras.optimizers.RMSprop(c.learning_rate, momentum=c.momentum, weight_decay=_decay(c))
)
OPTIMISERS.register("sgd", lambda c: keras.optimizers.SGD(c.learning_rate, momentum=c.momentum, weight_decay=_decay(c)))
OPTIMISERS.register("adam", lambda c: keras.optimizers.Adam(c.learning_rate, weight_decay=_decay(c)))


def create_optimiser(cfg: OptimiserConfig) -> keras.optimizers.Optimizer:
    return OPTIMISERS.create(cfg.name, cfg)
