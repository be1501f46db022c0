"""A two-class ScreeningResult and model card for tests that need one without a trained model (the store,
exports, the result's own rules), and the training command line the CLI tests refuse: built here once so a
new required field or option is added in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from facescreen.edge.bundle import ModelCard
from facescreen.edge.result import ScreeningResult


def make_result(p: float = 0.7, **fields: Any) -> ScreeningResult:
    """A control/syndromic result with probability ``p``; ``fields`` replace any other field."""
    base: dict[str, Any] = dict(
        probability=p,
        threshold=0.5,
        class_names=("control", "syndromic"),
        class_probabilities=(1 - p, p),
        positive_classes=("syndromic",),
        model_id="m-test",
        model_version="3",
        backend="keras:keras",
        intended_use="research only",
        not_for_clinical_use=True,
    )
    return ScreeningResult(**{**base, **fields})


def make_card(**fields: Any) -> ModelCard:
    """A control/syndromic model card (threshold 0.5, resnet18, the default 224-pixel input) for a
    bundle a test writes itself; ``fields`` replace any field (``input=InputSpec(size=64)``...)."""
    base: dict[str, Any] = dict(
        model_id="probe",
        classes=("control", "syndromic"),
        positive_classes=("syndromic",),
        threshold=0.5,
        backbone="resnet18",
    )
    return ModelCard(**{**base, **fields})


def cv_argv(data: Path, out: Path, *extra: str) -> list[str]:
    """``facescreen-train cv`` on ``data`` into ``out`` from random weights (``--init none``: nothing to
    download), then ``extra``: the command line of the tests that expect it refused before training."""
    return ["cv", "--data", str(data), "--out", str(out), "--init", "none", *extra]


def train_fixture_screener(cfg, x, labels):
    """The tests' fixture screener: ``cfg``'s model (a ``training.model.ModelConfig``) built from seed 0
    and trained six epochs (Adam, batch 16) on a SYNTHETIC strong-signal set, so that its probabilities
    spread out and separate the classes. The converters', tablet and runtime-matrix fixtures share it."""
    import keras

    from facescreen.training.model import build_screener

    keras.utils.set_random_seed(0)
    model = build_screener(cfg)
    trainable = keras.Model(model.input, model.output["probs"])
    trainable.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    trainable.fit(x, labels, epochs=6, batch_size=16, verbose=0, shuffle=True)
    return model
