"""Typed errors. Each carries a stable ``code`` so the kiosk API can map it to a 4xx answer."""

from __future__ import annotations

from typing import ClassVar


class CodedError(Exception):
    """An error with a stable ``code``, given in its class statement (``class E(Base, code="e")``):
    a subclass cannot inherit its parent's code by forgetting its own, nor take another's."""

    code: ClassVar[str]
    _owners: ClassVar[dict[str, str]] = {}  # code -> class name (a name: a reloaded module may define it again)

    def __init_subclass__(cls, *, code: str, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        owner = CodedError._owners.setdefault(code, cls.__qualname__)
        if owner != cls.__qualname__:
            raise TypeError(f"error code {code!r} of {cls.__qualname__} is already {owner}'s; give it its own")
        cls.code = code


class FaceScreenError(CodedError, code="facescreen_error"):
    """Base class: an input or configuration problem a person can fix."""


class PhotoError(FaceScreenError, code="bad_image"):
    """The photo could not be read: not an image, truncated, too large, unsupported format."""


class PhotoTooLargeError(PhotoError, code="image_too_large"):
    """A photo over the limits: more bytes or more pixels than the decoder accepts."""


class PhotoTooSmallError(PhotoError, code="image_too_small"):
    """A readable image too small to hold a face the model can use."""


class PhotoAspectError(PhotoError, code="bad_aspect_ratio"):
    """A readable image with an aspect ratio no face photo has (a 40000x1 strip)."""


class NoFaceError(FaceScreenError, code="no_face"):
    """No face (above the confidence threshold) was found in the photo."""


class BundleError(FaceScreenError, code="bad_bundle"):
    """A model bundle is missing, incomplete or inconsistent with its model card."""


class BackendUnavailableError(FaceScreenError, code="backend_unavailable"):
    """The requested inference backend or artifact cannot run on this machine."""


class AssetMissingError(FaceScreenError, code="asset_missing"):
    """A model file that must be supplied or fetched at set-up time is absent."""
