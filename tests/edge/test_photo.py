"""Photo loading: formats, EXIF, colour modes, and every error path."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from facescreen.edge import (
    PhotoAspectError,
    PhotoError,
    PhotoLimits,
    PhotoTooLargeError,
    PhotoTooSmallError,
    load_photo,
)
from facescreen.edge.photo import DecodeBudget, kept_dimensions, open_photo


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


# EXIF 2.32 (CIPA DC-008), tag 0x0112 Orientation: where the stored image's row 0 and column 0 are
# shown, written as the numpy operation that turns the stored pixels into the displayed ones.
EXIF_ORIENTATIONS = {
    1: lambda a: a,  # top-left: as stored
    2: lambda a: a[:, ::-1],  # top-right: mirrored left-right
    3: lambda a: a[::-1, ::-1],  # bottom-right: turned 180 degrees
    4: lambda a: a[::-1, :],  # bottom-left: mirrored top-bottom
    5: lambda a: a.transpose(1, 0, 2),  # left-top: mirrored along the main diagonal
    6: lambda a: np.rot90(a, k=-1),  # right-top: turned 90 degrees clockwise
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),  # right-bottom: mirrored along the other diagonal
    8: lambda a: np.rot90(a, k=1),  # left-bottom: turned 90 degrees anticlockwise
}


@pytest.mark.parametrize("orientation", sorted(EXIF_ORIENTATIONS))
def test_exif_orientation_is_honoured(orientation):
    """Four flat quadrants of different colours (so JPEG keeps them): each must land where the EXIF
    table puts it. A wrong rotation or a missing mirror moves a quadrant and fails."""
    stored = np.zeros((40, 60, 3), np.uint8)
    stored[:20, :30], stored[:20, 30:], stored[20:, :30], stored[20:, 30:] = (
        (255, 0, 0),
        (0, 255, 0),
        (0, 0, 255),
        (255, 255, 0),
    )
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = load_photo(encode(Image.fromarray(stored), "JPEG", quality=95, exif=exif))
    expected = EXIF_ORIENTATIONS[orientation](stored)
    assert out.shape == expected.shape
    assert np.abs(out.astype(int) - expected).mean() < 8  # JPEG's error at the quadrant edges only


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
    rgba = np.zeros((24, 24, 4), np.uint8)
    out = load_photo(encode(Image.fromarray(rgba, "RGBA")))
    assert (out == 255).all()


def test_phone_sized_photo_loads():
    big = Image.new("RGB", (3024, 4032), (120, 90, 60))
    out = load_photo(encode(big, "JPEG", quality=80))
    assert out.shape == (4032, 3024, 3)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"this is not an image at all", "not an image"),
        (b"%PDF-1.4 fake", "not an image"),
    ],
)
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


@pytest.mark.parametrize(
    "arr, message",
    [
        (np.zeros((10, 10, 2), np.uint8), "shape"),
        (np.zeros((4, 4, 3), np.uint8), "too small"),
        (np.zeros((24, 24, 3), np.float32), "uint8"),
    ],
)
def test_bad_arrays(arr, message):
    with pytest.raises(PhotoError, match=message):
        load_photo(arr)


def test_non_photo_source():
    with pytest.raises(PhotoError, match="cannot read a photo from a int"):
        load_photo(42)  # type: ignore[arg-type]


# --- HEIC (iPhones and iPads) ---------------------------------------------------------------------
def test_heic_decodes_upright_with_its_orientation():
    """A real HEIC written at test time: pixels stored lying on their side (as a phone's sensor
    gives them) with orientation 6; the loader returns the upright photo. pillow-heif is a base
    dependency: without it this fails, as a tablet's HEIC upload would."""
    upright = np.zeros((60, 80, 3), np.uint8)
    upright[:20] = 255  # a white band along the top edge
    sideways = Image.fromarray(np.ascontiguousarray(np.rot90(upright, k=1)))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    data = encode(sideways, "HEIF", quality=95, exif=exif.tobytes())
    assert data[4:12] in (b"ftypheic", b"ftypmif1"), data[:16]
    out = load_photo(data)
    assert out.shape == (60, 80, 3)
    assert out[:16].mean() > 200 and out[24:].mean() < 50  # the band is on top again


# --- size and shape, before decoding --------------------------------------------------------------
@pytest.mark.parametrize(
    "size, error, message",
    [
        ((12, 12), PhotoTooSmallError, "too small"),
        ((40000, 1), PhotoTooSmallError, "too small"),
        ((1, 200000), PhotoTooSmallError, "too small"),
        ((4500, 100), PhotoAspectError, "aspect ratio of 45:1"),
    ],
)
def test_impossible_shapes_are_refused_from_the_header(size, error, message):
    data = encode(Image.new("1", size), "PNG")
    with pytest.raises(error, match=message):
        open_photo(data)


def test_large_jpeg_is_decoded_reduced_but_never_below_the_floor():
    big = Image.new("RGB", (4000, 3000), (120, 90, 60))  # 12 MP
    data = encode(big, "JPEG", quality=80)
    limits = PhotoLimits(reduce_above_pixels=2_000_000)
    opened = open_photo(data, limits)
    assert opened.original_size == (4000, 3000) and opened.size == (2000, 1500)  # 1/2: 3 MP >= 2 MP; 1/4 is not
    assert load_photo(data, limits).shape == (1500, 2000, 3)
    assert load_photo(data).shape == (3000, 4000, 3)  # at the default floor (12 MP) nothing is reduced
    png = encode(big.resize((400, 300)), "PNG")  # PNG has no reduced decode: decoded as is
    assert open_photo(png, PhotoLimits(reduce_above_pixels=10_000)).size == (400, 300)


def test_one_bit_bomb_decodes_without_a_full_size_rgb_copy():
    """49 MP in a few kB: the RGB array is built band by band from the 1-bit image, so the decode
    peaks at the array plus PIL's own 1-byte-per-pixel "1" image (1.33x); a whole-image
    convert("RGB") plus its bytes would make it 2.3x.
    Measured as the peak RSS of a fresh process (PIL's buffers are invisible to tracemalloc)."""
    import subprocess
    import sys

    code = """
import io, resource, sys
from PIL import Image
from facescreen.edge.photo import load_photo
buf = io.BytesIO(); Image.new("1", (7000, 7000)).save(buf, "PNG"); data = buf.getvalue()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = load_photo(data)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(data), out.nbytes, (after - before) * 1024)
"""
    size, nbytes, grew = map(
        int,
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
        ).stdout.split(),
    )
    assert size < 20_000 and nbytes == 7000 * 7000 * 3
    # the array plus PIL's "1" image (1 byte a pixel: a third of the array) and nothing else; with
    # exif_transpose's copy of that image (kept in place now) it grew 1.47x
    assert grew < (1 + 1 / 3) * nbytes, (
        f"decode peaked {grew / 2**20:.0f} MiB above start for a {nbytes / 2**20:.0f} MiB array"
    )


def test_a_kept_photo_is_decoded_small_without_the_full_size_array():
    """decode(max_pixels): the 49 MP bomb becomes its 12 MP self without its 141 MiB RGB array ever
    existing (the kiosk's sync route keeps photos at 12 MP; it used to decode full size, then shrink).
    Fresh process, peak RSS as above."""
    import subprocess
    import sys

    code = """
import io, resource
from PIL import Image
from facescreen.edge.photo import open_photo
buf = io.BytesIO(); Image.new("1", (7000, 7000)).save(buf, "PNG"); data = buf.getvalue()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = open_photo(data).decode(12_000_000)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(out.shape[0], out.shape[1], (after - before) * 1024)
"""
    h, w, grew = map(
        int,
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
        ).stdout.split(),
    )
    assert (w, h) == kept_dimensions(7000, 7000, 12_000_000) and w * h <= 12_000_000
    assert grew < 7000 * 7000 * 3, f"a kept decode grew {grew / 2**20:.0f} MiB: the full-size array existed"


@pytest.mark.parametrize("mode", ["RGB", "L", "1", "P", "RGBA"])
@pytest.mark.parametrize("shape, max_pixels", [((300, 200), 15_000), ((301, 217), 20_000)])
def test_a_kept_photo_is_the_area_average_of_the_full_one(mode, shape, max_pixels):
    """Pinned to OpenCV's INTER_AREA over the full-size decode (the store's own shrinking,
    kiosk.store.kept_size): the same size; at a whole factor (2x) the same 2x2 means within rounding,
    even over noise; at a fractional one (PIL's box filter counts each source pixel in one kept pixel,
    where INTER_AREA splits the edge pixels), within a level or two on average over smooth shading.
    1-bit and palette photos are averaged too, not picked by nearest neighbour."""
    import cv2

    if shape == (300, 200):  # noise: any difference in what is averaged shows
        rgb = np.random.default_rng(1).integers(0, 256, (*shape, 3), dtype=np.uint8)
    else:  # a photo's smooth shading
        y, x = np.mgrid[: shape[0], : shape[1]]
        rgb = np.stack([x * 255 // shape[1], y * 255 // shape[0], (x + y) * 255 // sum(shape)], -1).astype(np.uint8)
    rgb[100:200, 50:150] = (250, 10, 10)  # a flat patch
    img = Image.fromarray(rgb).convert(mode, dither=Image.Dither.NONE)
    if mode == "RGBA":
        img.putalpha(255)
    data = encode(img)
    full = open_photo(data).decode()
    kept = open_photo(data).decode(max_pixels)
    size = kept_dimensions(shape[1], shape[0], max_pixels)
    assert kept.shape == (size[1], size[0], 3) and size[0] * size[1] <= max_pixels
    diff = np.abs(kept.astype(int) - cv2.resize(full, size, interpolation=cv2.INTER_AREA))
    if shape == (300, 200):
        assert diff.max() <= 1, diff.max()
    else:
        assert diff.mean() < 2, diff.mean()
        assert diff[60:100, 35:75].max() <= 1  # inside the flat patch: the same colour
    assert open_photo(data).decode(shape[0] * shape[1]).shape == full.shape  # at or under the limit: untouched


def test_decode_budget_bounds_pixels_in_flight():
    import threading

    budget = DecodeBudget(100)
    peak, lock, go = [0], threading.Lock(), threading.Barrier(6)

    def work(n):
        go.wait()
        for _ in range(50):
            with budget.reserve(n):
                with lock:
                    peak[0] = max(peak[0], budget.in_flight)

    threads = [threading.Thread(target=work, args=(n,)) for n in (30, 30, 40, 60, 70, 150)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert budget.in_flight == 0 and 70 <= peak[0] <= 150  # 150 exceeds the budget: it ran alone


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
    assert [p.name for p in bench_photos(tmp_path)] == [
        "IMG_0001.HEIC",
        "b.webp",
        "c.jpg",
    ]  # the bench took jpg/png only
    assert [p.name for p in ImageFolderSource(cls).files] == ["IMG_0001.HEIC", "b.webp"]
    (tmp_path / "syndromic").mkdir()
    (tmp_path / "syndromic" / "d.heif").write_bytes(b"x")
    cohort = load_cohort(tmp_path)
    assert sorted(p.path.name for p in cohort.photos) == ["IMG_0001.HEIC", "b.webp", "c.jpg", "d.heif"]
