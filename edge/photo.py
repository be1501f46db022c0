"""Photo loading: the first step of the one path every photo takes.

Honours EXIF orientation (and HEIF's own rotation), accepts phone photos (3024x4032 and larger,
JPEG or the iPhone's HEIC), and converts grayscale, palette, CMYK, 16-bit and alpha images to 8-bit
RGB. Every failure is a :class:`PhotoError`.

Memory is bounded before anything is decoded: the header's pixel count is checked against
``PhotoLimits.max_pixels`` (a 6 KB PNG can declare 49 megapixels), and a JPEG larger than
``PhotoLimits.reduce_above_pixels`` is decoded reduced by the codec itself (DCT scaling, 1/2, 1/4
or 1/8), never below that many pixels. :class:`DecodeBudget` bounds the decoded pixels that
concurrent callers (the kiosk server's requests) hold at once.
"""

from __future__ import annotations

import ctypes
import io
import math
import threading
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import FaceScreenError, PhotoAspectError, PhotoError, PhotoTooLargeError, PhotoTooSmallError

try:  # HEIC/HEIF, the default of iPhones and iPads; libheif applies the file's own rotation (irot/imir)
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - a base dependency; kept optional for hand-built Jetson images
    HEIF_SUPPORTED = False

PhotoSource = str | Path | bytes | bytearray | memoryview | np.ndarray

ACCEPTED_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "BMP", "TIFF", "HEIF")
DRAFT_FORMATS = ("JPEG", "MPO")  # formats whose codec can decode at a reduced scale
BAND_ROWS = 256  # rows converted to RGB at a time
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
    hidden files and folders (a leading dot, e.g. macOS ``._IMG_0001.jpg``) are left out. A
    ``folder`` that is not one is a FaceScreenError: walking it found no photos, and a mistyped
    folder was reported as a folder without photos."""
    root = Path(folder)
    if not root.is_dir():
        raise FaceScreenError(f"no folder at {root}" if not root.exists() else f"{root} is a file, not a folder")
    walk = root.rglob("*") if recursive else root.iterdir()
    return sorted(
        p for p in walk if is_photo_file(p) and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def photos_named(paths: Iterable[str | Path]) -> list[Path]:
    """The photos a command line names: files as given, folders searched through every sub-folder
    (the training layout ``photos/<class>/``) by :func:`find_photos`."""
    out: list[Path] = []
    for p in map(Path, paths):
        out += find_photos(p) if p.is_dir() else [p]
    return out


@dataclass(frozen=True)
class PhotoLimits:
    """Guards against huge uploads, decompression bombs and images that cannot hold a face."""

    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 80_000_000  # from the header, before decoding; 3024x4032 is 12.2 MP
    # A JPEG above this is decoded at the largest power-of-two reduction that keeps at least this
    # many pixels. 12 MP is a 3024x4032 phone photo, far more than the detector (1024 px) and the
    # alignment (a 224 px crop of the face) use, so a 48 MP photo is screened as its 12 MP self.
    reduce_above_pixels: int = 12_000_000
    min_side: int = 20  # MTCNN's smallest face: a smaller image cannot hold one
    max_aspect: float = 8.0  # a panorama is ~4:1; a 40000x1 strip is not a photo of a face

    def check_size(self, width: int, height: int) -> None:
        """Refuse a size before decoding: too many pixels, too small, or an impossible shape."""
        if width * height > self.max_pixels:
            raise PhotoTooLargeError(
                f"the image is {width}x{height} = {width * height / 1e6:.1f} MP; "
                f"the limit is {self.max_pixels / 1e6:.0f} MP"
            )
        if min(width, height) < self.min_side:
            raise PhotoTooSmallError(
                f"the image is too small ({width}x{height}); a face photo needs at least "
                f"{self.min_side} px on each side"
            )
        if max(width, height) > self.max_aspect * min(width, height):
            raise PhotoAspectError(
                f"the image is {width}x{height}, an aspect ratio of "
                f"{max(width, height) / min(width, height):.0f}:1; a face photo is at most "
                f"{self.max_aspect:g}:1"
            )


DEFAULT_LIMITS = PhotoLimits()


def release_free_memory() -> None:
    """Hand freed heap memory back to the operating system (glibc ``malloc_trim``; elsewhere a no-op).
    Decoding and measuring a large photo leaves megabytes of freed buffers in the C allocator's
    per-thread arenas; without this a server's RSS stays at its high-water mark."""
    global _TRIM
    if _TRIM is None:
        try:
            _TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _TRIM = False
    if _TRIM:
        _TRIM(0)


_TRIM = None
TRIM_ABOVE_PIXELS = 4_000_000  # after releasing a photo this large, trim the heap


class DecodeBudget:
    """A semaphore counted in decoded pixels: callers reserve an image's pixels before decoding it
    and hold them while they work on it, so concurrent requests never hold more than ``max_pixels``
    decoded pixels (3 bytes each, plus the decoder's transient copy). An image larger than the whole
    budget waits until nothing else is in flight, then runs alone. Releasing a large photo returns
    the freed memory to the system (:func:`release_free_memory`)."""

    def __init__(self, max_pixels: int) -> None:
        if max_pixels <= 0:
            raise ValueError(f"the decode budget must be positive, got {max_pixels}")
        self.max_pixels = max_pixels
        self._in_flight = 0
        self._cond = threading.Condition()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @contextmanager
    def reserve(self, pixels: int) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: self._in_flight == 0 or self._in_flight + pixels <= self.max_pixels)
            self._in_flight += pixels
        try:
            yield
        finally:
            if pixels >= TRIM_ABOVE_PIXELS:
                release_free_memory()
            with self._cond:
                self._in_flight -= pixels
                self._cond.notify_all()


class OpenedPhoto:
    """A photo whose header has been read and checked; nothing is decoded yet. ``pixels`` is what
    :meth:`decode` will produce (after any reduced JPEG decode), so a budget can be reserved first."""

    def __init__(self, img: Image.Image, original_size: tuple[int, int]) -> None:
        self._img = img
        self.original_size = original_size

    @property
    def size(self) -> tuple[int, int]:
        return self._img.size

    @property
    def pixels(self) -> int:
        w, h = self._img.size
        return w * h

    def decode(self, max_pixels: int | None = None) -> np.ndarray:
        """The ``(H, W, 3)`` uint8 RGB array, upright per its EXIF orientation. With ``max_pixels``, a
        larger image is shrunk to at most that many pixels by area averaging before it becomes an RGB
        array (:func:`shrunk_image`): a caller that only keeps the photo (the kiosk's store keeps 12 MP)
        never holds its full-size RGB pixels (a 49 MP PNG: 141 MiB)."""
        img, self._img = self._img, None  # one decode per opened photo: the decoded image is not kept twice
        if img is None:
            raise RuntimeError("this photo was decoded already; open it again")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                img.load()
                # in place: without an Orientation tag, exif_transpose(img) returns a full copy of the
                # decoded image (a 49 MP 1-bit PNG: 47 MiB more at the decode's peak, on every route)
                ImageOps.exif_transpose(img, in_place=True)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise PhotoTooLargeError(f"the image has too many pixels: {exc}") from None
            except (OSError, SyntaxError, ValueError) as exc:
                raise PhotoError(f"the image data is truncated or corrupt: {exc}") from None
        if max_pixels is not None and img.width * img.height > max_pixels:
            img = shrunk_image(img, max_pixels)
        return _pil_to_rgb(img)


# Modes PIL's box filter area-averages; "1" and "P" it would resize by nearest neighbour only.
AREA_MODES = ("L", "LA", "RGB", "RGBA")


def kept_dimensions(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """The size a ``width`` x ``height`` image is shrunk to so that it holds at most ``max_pixels``
    (the aspect ratio kept, each side rounded down)."""
    f = math.sqrt(max_pixels / (width * height))
    return max(1, int(width * f)), max(1, int(height * f))


def shrunk_image(img: Image.Image, max_pixels: int) -> Image.Image:
    """``img`` area-averaged (PIL's box filter) down to :func:`kept_dimensions`. A mode PIL cannot
    area-average (16-bit, float) is returned as it is, for the array's own shrinking (kiosk.store.kept_size)."""
    if img.mode == "1":
        img = img.convert("L")
    elif img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif img.mode in ("CMYK", "YCbCr"):
        img = img.convert("RGB")
    if img.mode not in AREA_MODES:
        return img
    return img.resize(kept_dimensions(img.width, img.height, max_pixels), Image.Resampling.BOX)


def open_photo(
    source: str | Path | bytes | bytearray | memoryview, limits: PhotoLimits = DEFAULT_LIMITS
) -> OpenedPhoto:
    """Read and check a photo's header (format, size, shape) without decoding its pixels."""
    data = _read_bytes(source, limits)
    if not data:
        raise PhotoError("the photo is empty (0 bytes)")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            hint = "; HEIC needs the pillow-heif package" if not HEIF_SUPPORTED and b"ftyphei" in data[:32] else ""
            raise PhotoError(f"the file is not an image that can be read (JPEG, PNG, HEIC, ...){hint}") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise PhotoTooLargeError(f"the image has too many pixels: {exc}") from None
        except Exception as exc:  # PIL raises a zoo of exceptions for corrupt headers
            raise PhotoError(f"the image header could not be read: {exc}") from None
    if img.format not in ACCEPTED_FORMATS:
        raise PhotoError(f"unsupported image format {img.format!r}; expected one of {', '.join(ACCEPTED_FORMATS)}")
    original = img.size
    limits.check_size(*original)
    w, h = original
    if img.format in DRAFT_FORMATS and w * h > limits.reduce_above_pixels:
        f = math.sqrt(limits.reduce_above_pixels / (w * h))
        img.draft(img.mode, (math.ceil(w * f), math.ceil(h * f)))  # keeps at least the requested size
    return OpenedPhoto(img, original)


def load_photo(source: PhotoSource, limits: PhotoLimits = DEFAULT_LIMITS) -> np.ndarray:
    """Return the photo as an ``(H, W, 3)`` uint8 RGB array, upright per its EXIF orientation.

    ``source`` may be a path, the encoded bytes of a file, or an already decoded array
    (``(H, W)``, ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA, uint8 or uint16).
    """
    if isinstance(source, np.ndarray):
        return _array_to_rgb(source, limits)
    return open_photo(source, limits).decode()


def _read_bytes(source: PhotoSource, limits: PhotoLimits) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise PhotoError(f"no such photo file: {path}")
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise PhotoTooLargeError(
                f"{path} is {size / 2**20:.1f} MiB; the limit is {limits.max_bytes / 2**20:.0f} MiB"
            )
        data = path.read_bytes()
    else:
        raise PhotoError(f"cannot read a photo from a {type(source).__name__}; expected a path, bytes or an array")
    if len(data) > limits.max_bytes:
        raise PhotoTooLargeError(
            f"the upload is {len(data) / 2**20:.1f} MiB; the limit is {limits.max_bytes / 2**20:.0f} MiB"
        )
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
    # Converted in bands of rows straight into the output: a 1-bit or grayscale photo never exists
    # as a full-size RGB copy next to the array (a 49 MP 1-bit PNG is 6 MB; its RGB array 147 MB).
    out = np.empty((img.height, img.width, 3), np.uint8)
    for y0 in range(0, img.height, BAND_ROWS):
        band = img.crop((0, y0, img.width, min(img.height, y0 + BAND_ROWS)))
        out[y0 : y0 + band.height] = np.asarray(band if band.mode == "RGB" else band.convert("RGB"))
    return out


def _array_to_rgb(arr: np.ndarray, limits: PhotoLimits) -> np.ndarray:
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise PhotoError(f"expected an (H, W), (H, W, 3) or (H, W, 4) array, got shape {arr.shape}")
    limits.check_size(arr.shape[1], arr.shape[0])
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
