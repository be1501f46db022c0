"""A two-class ScreeningResult and model card for tests that need one without a trained model (the store,
exports, the result's own rules): built here once so a new required field is added in one place."""

from __future__ import annotations

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
