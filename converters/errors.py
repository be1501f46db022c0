"""Conversion errors: each says what went wrong and what to do; codes follow edge.errors."""

from __future__ import annotations

from facescreen.edge.errors import FaceScreenError


class ConversionError(FaceScreenError):
    """A target could not be built as asked (never replaced by a lower precision)."""

    code = "conversion_failed"


class CalibrationError(ConversionError):
    """The calibration or parity faces are missing, too few, or do not fit the model."""

    code = "bad_calibration_set"


class TargetUnavailableError(ConversionError):
    """The target cannot be built on this machine (its toolchain or device is absent): reported as
    "unavailable" (exit 3), not as a failed conversion."""

    code = "target_unavailable"
