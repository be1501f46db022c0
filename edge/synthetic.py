"""A SYNTHETIC cohort for tests and the demo. It is not clinical data and says nothing about any
syndrome: it exists so that the whole pipeline can be exercised and must learn a planted signal.

Source faces are real photos that installed packages ship: scikit-image's ``astronaut`` (Eileen
Collins, NASA, public domain) and matplotlib's ``grace_hopper.jpg`` (public domain). Each
synthetic "subject" is one of them under random photometric and geometric variation (scale,
rotation, position, exposure, colour cast, noise, blur, JPEG quality, mirror). Subjects of the
``syndromic`` class carry a *planted facial-geometry signal*: wider-set eyes (hypertelorism,
+12% +- 3% of the inter-eye distance) and a wider mouth (+15% +- 4% of mouth width), produced by a
smooth local warp around the landmarks. Controls get the same traits at 0% +- 3% / 0% +- 4%.
Both source faces appear in both classes, so identity does not give the label away.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .errors import AssetMissingError

SYNTHETIC_NOTICE = (
    "SYNTHETIC COHORT: generated from two public-domain sample photos with a planted "
    "geometric signal; results on it say nothing about real syndromes."
)

# MTCNN landmarks of the source photos (left_eye, right_eye, nose, mouth_left, mouth_right), measured
# once with the mtcnn package; tests/edge/test_synthetic.py re-measures them so they cannot rot.
SOURCE_LANDMARKS = {
    "astronaut": np.array([[204, 100], [245, 102], [224, 126], [202, 139], [244, 140]], dtype=np.float64),
    "grace_hopper": np.array([[220, 190], [308, 186], [268, 237], [232, 277], [304, 273]], dtype=np.float64),
}


def _astronaut() -> np.ndarray:
    try:
        from skimage import data
    except ImportError:
        raise AssetMissingError("the 'astronaut' sample needs scikit-image (pip install 'facescreen[dev]')") from None
    return np.ascontiguousarray(data.astronaut())


def _grace_hopper() -> np.ndarray:
    try:
        from matplotlib import cbook
    except ImportError:
        raise AssetMissingError(
            "the 'grace_hopper' sample needs matplotlib (pip install 'facescreen[train]')"
        ) from None
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        return np.asarray(Image.open(f).convert("RGB"))


_SOURCE_LOADERS = {"astronaut": _astronaut, "grace_hopper": _grace_hopper}  # the keys of SOURCE_LANDMARKS


def source_photo(name: str) -> np.ndarray:
    """An RGB uint8 sample face photo shipped by an installed package."""
    if name not in _SOURCE_LOADERS:
        raise ValueError(f"unknown sample photo {name!r}; expected one of {sorted(_SOURCE_LOADERS)}")
    return _SOURCE_LOADERS[name]()


def plant_geometry(rgb: np.ndarray, landmarks: np.ndarray, eye_widen: float, mouth_widen: float) -> np.ndarray:
    """Move the eyes apart by ``eye_widen`` x inter-eye distance (split between both eyes) and the
    mouth corners apart by ``mouth_widen`` x mouth width, with Gaussian-weighted smooth warps."""
    lm = np.asarray(landmarks, dtype=np.float64)
    iod = np.linalg.norm(lm[1] - lm[0])
    mouth = np.linalg.norm(lm[4] - lm[3])
    eye_axis = (lm[1] - lm[0]) / iod
    mouth_axis = (lm[4] - lm[3]) / mouth
    moves = [  # (centre, displacement, sigma)
        (lm[0], -eye_axis * eye_widen * iod / 2, 0.32 * iod),
        (lm[1], eye_axis * eye_widen * iod / 2, 0.32 * iod),
        (lm[3], -mouth_axis * mouth_widen * mouth / 2, 0.30 * mouth),
        (lm[4], mouth_axis * mouth_widen * mouth / 2, 0.30 * mouth),
    ]
    h, w = rgb.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    map_x, map_y = xs.copy(), ys.copy()
    for (cx, cy), (dx, dy), sigma in moves:
        # backward map: a destination pixel near the moved point reads from where it came from
        wgt = np.exp(-(((xs - cx - dx) ** 2 + (ys - cy - dy) ** 2) / (2 * sigma**2))).astype(np.float32)
        map_x -= dx * wgt
        map_y -= dy * wgt
    return cv2.remap(rgb, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)


MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 64, 4096  # a face MTCNN finds; a photo a phone takes


@dataclass(frozen=True)
class CohortConfig:
    n_per_class: int = 60
    image_size: int = 512  # square synthetic photos
    eye_widen: tuple[float, float] = (0.12, 0.03)  # syndromic mean, SD (controls: 0, SD)
    mouth_widen: tuple[float, float] = (0.15, 0.04)
    seed: int = 0
    classes: tuple[str, str] = ("control", "syndromic")

    def __post_init__(self) -> None:
        # 0 subjects wrote an empty cohort.csv, then an IndexError; the next run left the empty one
        if self.n_per_class < 1:
            raise ValueError(f"n_per_class must be at least 1, got {self.n_per_class}")
        if not MIN_IMAGE_SIZE <= self.image_size <= MAX_IMAGE_SIZE:
            raise ValueError(f"image_size must be {MIN_IMAGE_SIZE} to {MAX_IMAGE_SIZE} pixels, got {self.image_size}")


def make_subject(
    rng: np.random.Generator, source: str, syndromic: bool, cfg: CohortConfig, base: np.ndarray | None = None
) -> np.ndarray:
    """One synthetic subject photo (RGB uint8, ``image_size`` square)."""
    rgb = source_photo(source) if base is None else base
    lm = SOURCE_LANDMARKS[source]
    eye = rng.normal(cfg.eye_widen[0] if syndromic else 0.0, cfg.eye_widen[1])
    mouth = rng.normal(cfg.mouth_widen[0] if syndromic else 0.0, cfg.mouth_widen[1])
    img = plant_geometry(rgb, lm, eye, mouth)
    if rng.random() < 0.5:  # mirror: a different-looking subject, landmarks follow
        img = img[:, ::-1]
        lm = np.column_stack([rgb.shape[1] - 1 - lm[:, 0], lm[:, 1]])
    # geometric variation: place the face with random size, roll and position
    s = cfg.image_size
    iod = np.linalg.norm(lm[1] - lm[0])
    target_iod = rng.uniform(0.11, 0.2) * s
    centre = lm[:2].mean(0) * 0.5 + lm[3:].mean(0) * 0.5
    m = cv2.getRotationMatrix2D(tuple(centre), rng.uniform(-12, 12), target_iod / iod)
    m[:, 2] += np.array([s / 2, s * 0.48]) + rng.uniform(-0.08, 0.08, 2) * s - centre
    img = cv2.warpAffine(np.ascontiguousarray(img), m, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    # photometric variation
    f = img.astype(np.float32) / 255.0
    f = f ** rng.uniform(0.75, 1.3)
    f = f * rng.uniform(0.8, 1.15) * rng.uniform(0.92, 1.08, 3) + rng.uniform(-0.05, 0.05)
    f += rng.normal(0, rng.uniform(0.0, 0.02), f.shape)
    img = np.uint8(np.clip(f * 255 + 0.5, 0, 255))
    k = rng.choice([0, 0, 3, 5])
    if k:
        img = cv2.GaussianBlur(img, (k, k), 0)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=int(rng.integers(70, 96)))
    return np.asarray(Image.open(buf).convert("RGB"))


def make_cohort(out_dir: str | Path, cfg: CohortConfig = CohortConfig()) -> Path:
    """Write ``cfg.n_per_class`` subjects per class as JPEGs and a manifest ``cohort.csv``
    (``path, subject_id, label, syndrome, age_months, sex, source_photo``; age and sex are random
    labels for the subgroup report, unrelated to the faces); returns the manifest path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(cfg.seed)
    # age and sex are drawn from their own stream (so the photos stay those of earlier versions); they
    # are SYNTHETIC labels for exercising the subgroup report, unrelated to the faces
    demo = np.random.default_rng([cfg.seed, 7])
    bases = {name: source_photo(name) for name in SOURCE_LANDMARKS}
    rows = []
    for label in cfg.classes:
        (out / label).mkdir(exist_ok=True)
        for i in range(cfg.n_per_class):
            source = ("astronaut", "grace_hopper")[i % 2]
            img = make_subject(rng, source, label == cfg.classes[1], cfg, bases[source])
            rel = f"{label}/{label}_{i:04d}.jpg"
            Image.fromarray(img).save(out / rel, "JPEG", quality=95)
            rows.append(
                {
                    "path": rel,
                    "subject_id": f"syn-{label[:3]}-{i:04d}",
                    "label": label,
                    "syndrome": "planted-geometry" if label == cfg.classes[1] else "",
                    "age_months": int(demo.integers(12, 72)),
                    "sex": str(demo.choice(["F", "M"])),
                    "source_photo": source,
                }
            )
    manifest = out / "cohort.csv"
    with open(manifest, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (out / "README.txt").write_text(SYNTHETIC_NOTICE + "\n\n" + (__doc__ or ""))
    return manifest


def verification_photos(n_synthetic: int = 4, seed: int = 7) -> dict[str, np.ndarray]:
    """The two package sample photos, a 640x480 frame and a few synthetic cohort photos: what the
    converters' detector gate and the tablet's browser gate check a detector on."""
    photos = {"astronaut": source_photo("astronaut"), "grace_hopper": source_photo("grace_hopper")}
    photos["astronaut_640x480"] = cv2.resize(photos["astronaut"], (640, 480), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(seed)
    cfg = CohortConfig(image_size=384)
    for i in range(n_synthetic):
        src = ("astronaut", "grace_hopper")[i % 2]
        photos[f"synthetic_{i}"] = make_subject(rng, src, bool(i % 3 == 0), cfg, photos[src])
    return photos


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(
        prog="python -m facescreen.edge.synthetic", description="Write a SYNTHETIC cohort (see module doc)."
    )
    p.add_argument("--out", required=True, help="output folder (photos by class + cohort.csv)")
    p.add_argument("--n-per-class", type=int, default=CohortConfig.n_per_class, help="subjects per class")
    p.add_argument("--seed", type=int, default=0, help="random seed (another seed gives other subjects)")
    p.add_argument("--image-size", type=int, default=CohortConfig.image_size, help="photo side in pixels")
    args = p.parse_args(argv)
    try:
        cfg = CohortConfig(n_per_class=args.n_per_class, seed=args.seed, image_size=args.image_size)
    except ValueError as exc:
        p.error(str(exc))
    out = Path(args.out)
    if (out / "cohort.csv").is_file():
        print(f"{out / 'cohort.csv'} exists; leaving it")
        return 0
    print(make_cohort(out, cfg))
    print(SYNTHETIC_NOTICE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
