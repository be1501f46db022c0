"""Conversion errors: each says what went wrong and what to do; codes follow edge.errors."""

from __future__ import annotations

from facescreen.edge.errors import FaceScreenError


class ConversionError(FaceScreenError, code="conversion_failed"):
    """A target could not be built as asked (never replaced by a lower precision)."""


class CalibrationError(ConversionError, code="bad_calibration_set"):
    """The calibration or parity faces are missing, too few, or do not fit the model."""


class TargetUnavailableError(ConversionError, code="target_unavailable"):
    """The target cannot be built on this machine (its toolchain or device is absent): reported as
    "unavailable" (exit 3), not as a failed conversion."""
