"""Typed errors. Each carries a stable ``code`` so the kiosk API can map it to a 4xx answer."""

from __future__ import annotations


class FaceScreenError(Exception):
    """Base class: an input or configuration problem a person can fix."""

    code = "facescreen_error"


class PhotoError(FaceScreenError):
    """The photo could not be read: not an image, truncated, too large, unsupported format."""

    code = "bad_image"


class PhotoTooLargeError(PhotoError):
    code = "image_too_large"


class PhotoTooSmallError(PhotoError):
    """A readable image too small to hold a face the model can use."""

    code = "image_too_small"


class PhotoAspectError(PhotoError):
    """A readable image with an aspect ratio no face photo has (a 40000x1 strip)."""

    code = "bad_aspect_ratio"


class NoFaceError(FaceScreenError):
    """No face (above the confidence threshold) was found in the photo."""

    code = "no_face"


class BundleError(FaceScreenError):
    """A model bundle is missing, incomplete or inconsistent with its model card."""

    code = "bad_bundle"


class BackendUnavailableError(FaceScreenError):
    """The requested inference backend or artifact cannot run on this machine."""

    code = "backend_unavailable"


class AssetMissingError(FaceScreenError):
    """A model file that must be supplied or fetched at set-up time is absent."""

    code = "asset_missing"
