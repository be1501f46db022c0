"""Photo loading: formats, EXIF, colour modes, and every error path."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from facescreen.edge import PhotoError, PhotoLimits, PhotoTooLargeError, load_photo


def encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.fixture
def rgb() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)


def test_png_roundtrip_is_exact(rgb):
    out = load_photo(encode(Image.fromarray(rgb)))
    assert out.dtype == np.uint8 and out.shape == (40, 60, 3)
    np.testing.assert_array_equal(out, rgb)


def test_path_and_bytes_agree(tmp_path, rgb):
    p = tmp_path / "x.jpg"
    Image.fromarray(rgb).save(p, "JPEG", quality=95)
    np.testing.assert_array_equal(load_photo(p), load_photo(p.read_bytes()))


def test_exif_orientation_is_honoured(rgb):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    out = load_photo(encode(Image.fromarray(rgb), "JPEG", quality=100, exif=exif))
    assert out.shape == (60, 40, 3)


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "I;16", "1"])
def test_colour_modes_become_rgb(rgb, mode):
    img = Image.fromarray(rgb)
    img = img.convert("L").convert("I;16") if mode == "I;16" else img.convert(mode)
    fmt = "JPEG" if mode == "CMYK" else ("TIFF" if mode == "I;16" else "PNG")
    out = load_photo(encode(img, fmt))
    assert out.dtype == np.uint8 and out.shape == (40, 60, 3)


def test_sixteen_bit_png_keeps_its_range():
    ramp = (np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) * 16).astype(np.uint16)
    out = load_photo(encode(Image.fromarray(ramp)))
    assert out[..., 0].min() == 0 and out[..., 0].max() >= 250


def test_transparent_pixels_composite_on_white():
    rgba = np.zeros((16, 16, 4), np.uint8)
    out = load_photo(encode(Image.fromarray(rgba, "RGBA")))
    assert (out == 255).all()


def test_phone_sized_photo_loads():
    big = Image.new("RGB", (3024, 4032), (120, 90, 60))
    out = load_photo(encode(big, "JPEG", quality=80))
    assert out.shape == (4032, 3024, 3)


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"this is not an image at all", "not an image"),
    (b"%PDF-1.4 fake", "not an image"),
])
def test_bad_bytes(data, message):
    with pytest.raises(PhotoError, match=message):
        load_photo(data)


def test_truncated_jpeg(rgb):
    data = encode(Image.fromarray(np.repeat(np.repeat(rgb, 8, 0), 8, 1)), "JPEG")
    with pytest.raises(PhotoError, match="truncated|corrupt"):
        load_photo(data[: len(data) // 2])


def test_missing_file(tmp_path):
    with pytest.raises(PhotoError, match="no such photo"):
        load_photo(tmp_path / "nope.jpg")


def test_byte_limit(rgb):
    with pytest.raises(PhotoTooLargeError, match="limit"):
        load_photo(encode(Image.fromarray(rgb)), PhotoLimits(max_bytes=100))


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_before_decoding():
    with pytest.raises(PhotoTooLargeError, match="MP|pixels"):
        load_photo(_png_header_only(50_000, 50_000))


def test_unsupported_format(rgb):
    with pytest.raises(PhotoError, match="unsupported image format"):
        load_photo(encode(Image.fromarray(rgb), "GIF"))


@pytest.mark.parametrize("arr, message", [
    (np.zeros((10, 10, 2), np.uint8), "shape"),
    (np.zeros((4, 4, 3), np.uint8), "too small"),
    (np.zeros((10, 10, 3), np.float32), "uint8"),
])
def test_bad_arrays(arr, message):
    with pytest.raises(PhotoError, match=message):
        load_photo(arr)


def test_non_photo_source():
    with pytest.raises(PhotoError, match="cannot read a photo from a int"):
        load_photo(42)  # type: ignore[arg-type]


def test_one_list_of_photo_suffixes_serves_every_folder_walk(tmp_path):
    """Screen, bench, calibration, training folders and kiosk replay walk folders with edge.photo's
    one list: an iPhone's .HEIC and a .webp count as photos everywhere, hidden and other files do not."""
    from facescreen.edge.bench.runner import bench_photos
    from facescreen.edge.photo import PHOTO_SUFFIXES, find_photos
    from facescreen.kiosk.sources import ImageFolderSource
    from facescreen.training.data.manifest import load_cohort

    assert {".heic", ".heif", ".webp", ".jpg", ".png"} <= set(PHOTO_SUFFIXES)
    cls = tmp_path / "control"
    (cls / "deeper").mkdir(parents=True)
    for name in ("IMG_0001.HEIC", "b.webp", "deeper/c.jpg", "._IMG_0001.HEIC", "notes.txt"):
        (cls / name).write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in find_photos(tmp_path)]
    assert found == ["control/IMG_0001.HEIC", "control/b.webp", "control/deeper/c.jpg"]
    assert [p.name for p in find_photos(cls, recursive=False)] == ["IMG_0001.HEIC", "b.webp"]
    assert [p.name for p in bench_photos(tmp_path)] == ["IMG_0001.HEIC", "b.webp", "c.jpg"]  # the bench took jpg/png only
    assert [p.name for p in ImageFolderSource(cls).files] == ["IMG_0001.HEIC", "b.webp"]
    (tmp_path / "syndromic").mkdir()
    (tmp_path / "syndromic" / "d.heif").write_bytes(b"x")
    cohort = load_cohort(tmp_path)
    assert sorted(p.path.name for p in cohort.photos) == ["IMG_0001.HEIC", "b.webp", "c.jpg", "d.heif"]
