"""One two-class ScreeningResult for tests that need a result without running a model (the store, the
exports, the result's own rules): built here once so a new required field is added in one place."""

from __future__ import annotations

from typing import Any

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
