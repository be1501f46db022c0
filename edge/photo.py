"""Photo loading: the first step of the one path every photo takes.

Honours EXIF orientation, accepts phone photos (3024x4032 and larger), and converts grayscale,
palette, CMYK, 16-bit and alpha images to 8-bit RGB. Every failure is a :class:`PhotoError`.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import PhotoError, PhotoTooLargeError

PhotoSource = Union[str, Path, bytes, bytearray, memoryview, np.ndarray]

ACCEPTED_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "BMP", "TIFF")
# The one list of file suffixes every folder walk takes for a photo (screen, bench, calibration,
# training folders, kiosk replay). HEIC/HEIF is what iPhones and iPads save by default; whether a
# file decodes is decided by load_photo, which refuses what it cannot read with a PhotoError.
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif")


def is_photo_file(path: str | Path) -> bool:
    """A regular file whose suffix (any case) is one of :data:`PHOTO_SUFFIXES`."""
    p = Path(path)
    return p.suffix.lower() in PHOTO_SUFFIXES and p.is_file()


def find_photos(folder: str | Path, recursive: bool = True) -> list[Path]:
    """The photo files under ``folder`` (and its sub-folders unless ``recursive`` is False), sorted;
    hidden files and folders (a leading dot, e.g. macOS ``._IMG_0001.jpg``) are left out."""
    root = Path(folder)
    walk = root.rglob("*") if recursive else root.iterdir()
    return sorted(p for p in walk
                  if is_photo_file(p) and not any(part.startswith(".") for part in p.relative_to(root).parts))


@dataclass(frozen=True)
class PhotoLimits:
    """Guards against huge uploads and decompression bombs."""

    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 80_000_000  # 3024x4032 is 12.2 MP; a 108 MP phone sensor is refused


DEFAULT_LIMITS = PhotoLimits()


def load_photo(source: PhotoSource, limits: PhotoLimits = DEFAULT_LIMITS) -> np.ndarray:
    """Return the photo as an ``(H, W, 3)`` uint8 RGB array, upright per its EXIF orientation.

    ``source`` may be a path, the encoded bytes of a file, or an already decoded array
    (``(H, W)``, ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA, uint8 or uint16).
    """
    if isinstance(source, np.ndarray):
        return _array_to_rgb(source, limits)
    data = _read_bytes(source, limits)
    if not data:
        raise PhotoError("the photo is empty (0 bytes)")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise PhotoError("the file is not an image JPEG/PNG can be read from") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise PhotoTooLargeError(f"the image has too many pixels: {exc}") from None
        except Exception as exc:  # PIL raises a zoo of exceptions for corrupt headers
            raise PhotoError(f"the image header could not be read: {exc}") from None
        if img.format not in ACCEPTED_FORMATS:
            raise PhotoError(f"unsupported image format {img.format!r}; expected one of {', '.join(ACCEPTED_FORMATS)}")
        w, h = img.size
        if w * h > limits.max_pixels:
            raise PhotoTooLargeError(
                f"the image is {w}x{h} = {w * h / 1e6:.1f} MP; the limit is {limits.max_pixels / 1e6:.0f} MP"
            )
        try:
            img.load()
            img = ImageOps.exif_transpose(img)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise PhotoTooLargeError(f"the image has too many pixels: {exc}") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise PhotoError(f"the image data is truncated or corrupt: {exc}") from None
    return _pil_to_rgb(img)


def _read_bytes(source: PhotoSource, limits: PhotoLimits) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise PhotoError(f"no such photo file: {path}")
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise PhotoTooLargeError(f"{path} is {size / 2**20:.1f} MiB; the limit is {limits.max_bytes / 2**20:.0f} MiB")
        data = path.read_bytes()
    else:
        raise PhotoError(f"cannot read a photo from a {type(source).__name__}; expected a path, bytes or an array")
    if len(data) > limits.max_bytes:
        raise PhotoTooLargeError(f"the upload is {len(data) / 2**20:.1f} MiB; the limit is {limits.max_bytes / 2**20:.0f} MiB")
    return data


def _pil_to_rgb(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(arr[..., None], 3, axis=2))
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def _array_to_rgb(arr: np.ndarray, limits: PhotoLimits) -> np.ndarray:
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise PhotoError(f"expected an (H, W), (H, W, 3) or (H, W, 4) array, got shape {arr.shape}")
    if arr.shape[0] < 8 or arr.shape[1] < 8:
        raise PhotoError(f"the image is too small ({arr.shape[1]}x{arr.shape[0]})")
    if arr.shape[0] * arr.shape[1] > limits.max_pixels:
        raise PhotoTooLargeError(f"the image has {arr.shape[0] * arr.shape[1] / 1e6:.1f} MP; the limit is {limits.max_pixels / 1e6:.0f} MP")
    if arr.dtype == np.uint16:
        arr = (arr >> 8).astype(np.uint8)
    elif arr.dtype != np.uint8:
        raise PhotoError(f"expected a uint8 or uint16 array, got {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.shape[2] == 4:
        arr = arr[..., :3]
    return np.ascontiguousarray(arr)
